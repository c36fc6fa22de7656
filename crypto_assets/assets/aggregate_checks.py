"""Data-quality checks of the aggregate tables, run on the windows each materialization rewrote.

Each check returns a ``dg.AssetCheckResult`` whose metadata lists the offending rows (at most
20), so a failure in the Dagster UI says what to look at. The interval grid and OHLC invariants of the
candle rollups reuse ``candle_checks``; this module adds the aggregate-specific ones:
consistency with the source (exact ``numeric`` sums), buckets that are incomplete (a warning:
missing finer candles are never invented), the invariants of downsampled prices and metrics,
and a freshness check per table that runs on its own every hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.aggregate_run import Window
from crypto_assets.assets.candle_checks import (
    OHLC_INVARIANTS,
    ON_GRID,
    candle_check_specs,
    windows_clause,
)
from crypto_assets.resources import WarehouseResource
from crypto_assets.warehouse.rollups import ORIGIN

MATCHES_SOURCE = "matches_source"
INCOMPLETE = "incomplete_buckets"
INVARIANTS = "value_invariants"
FRESH = "fresh"
_SAMPLE = 20


def _plain(value: object) -> object:
    """A value as JSON can hold it: times as ISO text, exact decimals as their digits."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _result(
    name: str,
    rows: list[Any],
    columns: Sequence[str],
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """A check result: passed when ``rows`` (the offenders) is empty; examples in the metadata."""
    examples = [{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows[:_SAMPLE]]
    return dg.AssetCheckResult(
        check_name=name,
        passed=not rows,
        severity=severity,
        metadata={"offending_rows": len(rows), "examples": dg.MetadataValue.json(examples)},
    )


def _offenders(cur: cursor, windows: Sequence[Window], query: str) -> list[Any]:
    """Run ``query`` (which joins the VALUES table ``w(symbol, lo, hi)``) over the windows."""
    if not windows:
        return []
    with_clause, params = windows_clause([w.ms for w in windows])
    cur.execute(f"{with_clause} {query}", params)
    return cur.fetchall()


def check_incomplete(cur: cursor, table: str, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """Buckets with a finer candle missing (a warning: exchange outages are never filled)."""
    rows = _offenders(
        cur,
        windows,
        f"SELECT t.symbol, t.open_time, t.source_candles, t.source_interval FROM {table} t JOIN w"
        " ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi WHERE NOT t.is_complete ORDER BY 1, 2",
    )
    return _result(
        INCOMPLETE,
        rows,
        ("symbol", "open_time", "source_candles", "source_interval"),
        dg.AssetCheckSeverity.WARN,
    )


# market_metrics_daily rows (alias t) whose day lies in a window w
_DAY_IN_W = (
    "t.symbol = w.symbol AND t.day >= (w.lo AT TIME ZONE 'UTC')::date AND t.day < "
    "(w.hi AT TIME ZONE 'UTC')::date"
)
_SUMS = "sum(volume) AS volume, sum(quote_volume) AS quote_volume, sum(trade_count) AS trade_count"


def check_hours_match_source(cur: cursor, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """Per day, candles_1h sums equal the closed 1m candles' (and 15m in hours built from 15m), exactly."""
    rows = _offenders(
        cur,
        windows,
        f""", h AS (
            SELECT t.symbol, date_bin('1 day', t.open_time, {ORIGIN}) AS day, {_SUMS} FROM candles_1h t
            JOIN w ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi GROUP BY 1, 2
        ), s AS (
            SELECT symbol, day, {_SUMS} FROM (
                SELECT m.symbol, date_bin('1 day', m.open_time, {ORIGIN}) AS day,
                    m.volume, m.quote_volume, m.trade_count
                FROM candles_1m m JOIN w ON m.symbol = w.symbol AND m.open_time >= w.lo AND m.open_time < w.hi
                LEFT JOIN candles_1h t ON t.symbol = m.symbol
                    AND t.open_time = date_bin('1 hour', m.open_time, {ORIGIN})
                WHERE m.is_closed AND t.source_interval IS DISTINCT FROM '15m'
                UNION ALL
                SELECT q.symbol, date_bin('1 day', q.open_time, {ORIGIN}), q.volume, q.quote_volume, q.trade_count
                FROM candles_15m q JOIN w ON q.symbol = w.symbol AND q.open_time >= w.lo AND q.open_time < w.hi
                JOIN candles_1h t ON t.symbol = q.symbol AND t.open_time = date_bin('1 hour', q.open_time, {ORIGIN})
                WHERE t.source_interval = '15m'
            ) x GROUP BY 1, 2
        )
        SELECT symbol, day, h.volume::text, s.volume::text, h.quote_volume::text, s.quote_volume::text,
               h.trade_count, s.trade_count
        FROM h FULL JOIN s USING (symbol, day)
        WHERE (h.volume, h.quote_volume, h.trade_count) IS DISTINCT FROM (s.volume, s.quote_volume, s.trade_count)
        ORDER BY 1, 2""",
    )
    columns = (
        "symbol",
        "day",
        "volume_1h",
        "volume_source",
        "quote_volume_1h",
        "quote_volume_source",
        "trades_1h",
        "trades_source",
    )
    return _result(MATCHES_SOURCE, rows, columns)


def check_days_match_hours(cur: cursor, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """Each candles_1d row equals the sums of its day's candles_1h rows, exactly."""
    rows = _offenders(
        cur,
        windows,
        f""", h AS (
            SELECT t.symbol, date_bin('1 day', t.open_time, {ORIGIN}) AS day, {_SUMS}, sum(source_candles) AS n
            FROM candles_1h t JOIN w ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi GROUP BY 1, 2
        ), d AS (
            SELECT t.symbol, t.open_time AS day, t.volume, t.quote_volume, t.trade_count, t.source_candles AS n
            FROM candles_1d t JOIN w ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi
        )
        SELECT symbol, day, d.volume::text, h.volume::text, d.quote_volume::text, h.quote_volume::text, d.n, h.n
        FROM d FULL JOIN h USING (symbol, day)
        WHERE (d.volume, d.quote_volume, d.trade_count, d.n)
            IS DISTINCT FROM (h.volume, h.quote_volume, h.trade_count, h.n)
        ORDER BY 1, 2""",
    )
    columns = (
        "symbol",
        "day",
        "volume_1d",
        "volume_1h",
        "quote_volume_1d",
        "quote_volume_1h",
        "source_candles_1d",
        "source_candles_1h",
    )
    return _result(MATCHES_SOURCE, rows, columns)


def check_metrics_invariants(cur: cursor, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """Volatility and range are >= 0, minutes observed within 0..1440, volumes >= 0."""
    rows = _offenders(
        cur,
        windows,
        "SELECT t.symbol, t.day, t.realized_volatility, t.range_pct, t.minutes_observed, t.volume::text"
        f" FROM market_metrics_daily t JOIN w ON {_DAY_IN_W}"
        " WHERE NOT (coalesce(t.realized_volatility, 0) >= 0 AND coalesce(t.range_pct, 0) >= 0"
        " AND t.minutes_observed BETWEEN 0 AND 1440 AND t.volume >= 0) ORDER BY 1, 2",
    )
    return _result(
        INVARIANTS,
        rows,
        ("symbol", "day", "realized_volatility", "range_pct", "minutes_observed", "volume"),
    )


def check_metrics_match_days(cur: cursor, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """Each day with a candles_1d row has a metrics row with the same volumes and trade count."""
    rows = _offenders(
        cur,
        windows,
        f""", d AS (
            SELECT t.symbol, (t.open_time AT TIME ZONE 'UTC')::date AS day, t.volume, t.quote_volume, t.trade_count
            FROM candles_1d t JOIN w ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi
        ), m AS (
            SELECT t.symbol, t.day, t.volume, t.quote_volume, t.trade_count
            FROM market_metrics_daily t JOIN w ON {_DAY_IN_W}
        )
        SELECT symbol, day, m.volume::text, d.volume::text, m.trade_count, d.trade_count
            FROM m FULL JOIN d USING (symbol, day)
        WHERE (m.volume, m.quote_volume, m.trade_count) IS DISTINCT FROM (d.volume, d.quote_volume, d.trade_count)
        ORDER BY 1, 2""",
    )
    return _result(
        MATCHES_SOURCE,
        rows,
        ("symbol", "day", "volume_metrics", "volume_1d", "trades_metrics", "trades_1d"),
    )


def check_downsampled_invariants(cur: cursor, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """min <= median <= max, min <= avg <= max, at least one sample per bucket."""
    rows = _offenders(
        cur,
        windows,
        "SELECT t.symbol, t.bucket_width::text, t.bucket_start, t.min_price::text, t.median_price::text,"
        " t.avg_price::text, t.max_price::text, t.sample_count FROM price_downsampled t JOIN w"
        " ON t.symbol = w.symbol AND t.bucket_start >= w.lo AND t.bucket_start < w.hi"
        " WHERE NOT (t.min_price <= t.median_price AND t.median_price <= t.max_price"
        " AND t.min_price <= t.avg_price AND t.avg_price <= t.max_price AND t.sample_count > 0) ORDER BY 1, 2, 3",
    )
    columns = (
        "symbol",
        "bucket_width",
        "bucket_start",
        "min",
        "median",
        "avg",
        "max",
        "sample_count",
    )
    return _result(INVARIANTS, rows, columns)


def check_downsampled_match_samples(
    cur: cursor, windows: Sequence[Window], widths_s: Sequence[int]
) -> dg.AssetCheckResult:
    """For every window width, the buckets' sample counts add up to the samples of the day."""
    rows = _offenders(
        cur,
        windows,
        f""", s AS (
            SELECT p.symbol, date_bin('1 day', p.sampled_at, {ORIGIN}) AS day, count(*) AS n
            FROM price_samples p JOIN w ON p.symbol = w.symbol
                AND p.sampled_at >= w.lo AND p.sampled_at < w.hi GROUP BY 1, 2
        ), widths AS (SELECT unnest(ARRAY[{", ".join(f"interval '{s} seconds'" for s in widths_s)}]) AS width
        ), expected AS (SELECT s.*, widths.width FROM s CROSS JOIN widths
        ), d AS (
            SELECT t.symbol, date_bin('1 day', t.bucket_start, {ORIGIN}) AS day,
                t.bucket_width AS width, sum(t.sample_count) AS n
            FROM price_downsampled t JOIN w ON t.symbol = w.symbol AND t.bucket_start >= w.lo AND t.bucket_start < w.hi
            GROUP BY 1, 2, 3
        )
        SELECT symbol, day, width::text, d.n, expected.n FROM d FULL JOIN expected USING (symbol, day, width)
        WHERE d.n IS DISTINCT FROM expected.n ORDER BY 1, 2, 3""",
    )
    return _result(
        MATCHES_SOURCE,
        rows,
        ("symbol", "day", "bucket_width", "samples_in_buckets", "samples_in_source"),
    )


def stale_symbols(
    cur: cursor,
    table: str,
    time_sql: str,
    symbols: Sequence[str],
    max_age: timedelta,
    now: datetime,
) -> list[Any]:
    """Configured symbols whose newest row in ``table`` is older than ``max_age`` (or absent).

    ``time_sql`` is the row's time as a timestamptz expression over alias ``t``.
    """
    cur.execute(
        f"SELECT s, max({time_sql}) FROM unnest(%s::text[]) AS s"
        f" LEFT JOIN {table} t ON t.symbol = s GROUP BY s ORDER BY s",
        (list(symbols),),
    )
    return [
        (symbol, newest)
        for symbol, newest in cur.fetchall()
        if newest is None or newest < now - max_age
    ]


def build_freshness_check(
    asset_key: dg.AssetKey, time_sql: str, symbols: Sequence[str], max_age: timedelta
) -> dg.AssetChecksDefinition:
    """An hourly check that every configured symbol has a row newer than ``max_age`` in the asset's table."""
    table = asset_key.to_user_string()
    hourly: dg.AutomationCondition[dg.AssetKey | dg.AssetCheckKey] = (
        dg.AutomationCondition.cron_tick_passed("0 * * * *")
    )

    @dg.asset_check(
        asset=asset_key,
        name=FRESH,
        description=f"Every configured symbol has a {table} row newer than {max_age} (a warning).",
        automation_condition=hourly.since_last_handled(),
    )
    def fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.transaction() as conn, conn.cursor() as cur:
            rows = stale_symbols(cur, table, time_sql, symbols, max_age, datetime.now(UTC))
        return _result(FRESH, rows, ("symbol", "newest"), dg.AssetCheckSeverity.WARN)

    return fresh


def rollup_check_specs(asset_key: str) -> list[dg.AssetCheckSpec]:
    """The checks candles_1h and candles_1d carry on every materialization."""
    return [
        *[
            spec
            for spec in candle_check_specs(asset_key)
            if spec.name in (ON_GRID, OHLC_INVARIANTS)
        ],
        dg.AssetCheckSpec(
            MATCHES_SOURCE,
            asset=asset_key,
            description="Volumes and trade counts equal the finer candles' sums, exactly.",
        ),
        dg.AssetCheckSpec(
            INCOMPLETE,
            asset=asset_key,
            description="Buckets missing a finer candle are listed (a warning; never filled).",
        ),
    ]


def table_check_specs(asset_key: str, source_description: str) -> list[dg.AssetCheckSpec]:
    """The checks market_metrics_daily and price_downsampled carry on every materialization."""
    return [
        dg.AssetCheckSpec(
            INVARIANTS,
            asset=asset_key,
            description="Values within their bounds (min <= median <= max, volatility >= 0...).",
        ),
        dg.AssetCheckSpec(MATCHES_SOURCE, asset=asset_key, description=source_description),
    ]
