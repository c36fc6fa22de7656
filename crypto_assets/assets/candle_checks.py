"""Data-quality checks on the windows of a candle table that a run just wrote.

Each function returns a ``dg.AssetCheckResult`` with the offending rows in its metadata, so a
failed check shows in the Dagster UI with what to look at. An exchange outage (a gap) is a
warning: it is reported and no candle is invented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.warehouse.candles import ms_to_pg

Window = tuple[str, int, int]  # symbol, start ms, end ms (exclusive)

ON_GRID = "on_interval_grid"
DAY_COUNTS = "day_row_counts"
OHLC_INVARIANTS = "ohlc_invariants"
GAPS = "gaps_reported"
OFF_GRID_COUNT = "off_grid_candles"
OHLC_COUNT = "ohlc_violations"
_SAMPLE = 20
_OHLC_BROKEN = (
    "NOT (t.low <= t.open AND t.open <= t.high AND t.low <= t.close AND t.close <= t.high"
    " AND t.volume >= 0 AND t.quote_volume >= 0 AND t.trade_count >= 0"
    " AND t.taker_buy_base_volume >= 0 AND t.taker_buy_quote_volume >= 0)"
)


def _off_grid(step_ms: int) -> str:
    """Open time not a multiple of the step since the epoch (exact to the microsecond), or close
    time not 1 ms before the next open. ``date_bin`` costs a fifth of ``extract(epoch ..)``'s
    numeric arithmetic, which also rounded sub-millisecond offsets onto the grid."""
    return (
        f"date_bin(interval '{step_ms} milliseconds', t.open_time, timestamptz 'epoch') <> t.open_time"
        f" OR t.close_time <> t.open_time + interval '{step_ms - 1} milliseconds'"
    )


def scan_counts(step_ms: int) -> dict[str, str]:
    """The counts of ``check_on_grid`` and ``check_ohlc_invariants`` as aggregates for
    ``partition_results.table_stats``: the one scan that measures each written partition also
    counts the rows either check would list, so the checks scan again only to list them."""
    return {
        OFF_GRID_COUNT: f"count(*) FILTER (WHERE {_off_grid(step_ms)})",
        OHLC_COUNT: f"count(*) FILTER (WHERE {_OHLC_BROKEN})",
    }


def windows_clause(windows: Sequence[Window]) -> tuple[str, list[Any]]:
    """A WITH clause ``w(symbol, lo, hi)`` holding the windows, and its parameters."""
    values = ", ".join("(%s, %s::timestamptz, %s::timestamptz)" for _ in windows)
    params = [v for symbol, lo, hi in windows for v in (symbol, ms_to_pg(lo), ms_to_pg(hi))]
    return f"WITH w(symbol, lo, hi) AS (VALUES {values})", params


def _rows_in_windows(
    cur: cursor,
    table: str,
    windows: Sequence[Window],
    select: str,
    rest: str,
    counted: int | None = None,
) -> list[tuple[Any, ...]]:
    """``SELECT {select} FROM table t`` joined to the windows, then ``rest`` (WHERE/GROUP/ORDER);
    no query when ``counted`` (what a scan already counted of these rows) is 0."""
    if not windows or counted == 0:
        return []
    with_clause, params = windows_clause(windows)
    cur.execute(
        f"{with_clause} SELECT {select} FROM {table} t JOIN w"
        f" ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi {rest}",
        params,
    )
    return list(cur.fetchall())


def check_on_grid(
    cur: cursor, table: str, windows: Sequence[Window], step_ms: int, counted: int | None = None
) -> dg.AssetCheckResult:
    """Every candle opens on the interval grid and closes 1 ms before the next one opens.

    Binance's closed candles do; one that does not is a cut-short or shifted candle (an exchange
    fault, or a writer that mixed intervals) and would break every rollup built on it.
    ``counted``: the off-grid candles the writer's scan found in the windows (``scan_counts``);
    none found spares this scan.
    """
    rows = _rows_in_windows(
        cur,
        table,
        windows,
        "t.symbol, t.open_time, t.close_time",
        f"WHERE {_off_grid(step_ms)} ORDER BY 1, 2",
        counted,
    )
    return dg.AssetCheckResult(
        check_name=ON_GRID,
        passed=not rows,
        metadata={
            "off_grid_candles": len(rows),
            "examples": dg.MetadataValue.json(
                [[s, o.isoformat(), c.isoformat()] for s, o, c in rows[:_SAMPLE]]
            ),
        },
    )


def check_day_counts(
    reported: Mapping[str, tuple[int, int]], stored: Mapping[str, int]
) -> dg.AssetCheckResult:
    """Each partition holds exactly the candles expected for its day minus the gaps it reported.

    ``reported``: partition key -> (candles expected, candles reported missing); ``stored``:
    partition key -> rows in the table. A difference means rows were lost or added behind the
    run's back (a failed COPY, a concurrent writer): what the run says is not what is stored.
    """
    wrong = [
        {
            "partition": key,
            "expected": expected,
            "reported_missing": missing,
            "stored": stored.get(key, 0),
        }
        for key, (expected, missing) in sorted(reported.items())
        if stored.get(key, 0) != expected - missing
    ]
    return dg.AssetCheckResult(
        check_name=DAY_COUNTS,
        passed=not wrong,
        metadata={
            "partitions_checked": len(reported),
            "mismatches": len(wrong),
            "examples": dg.MetadataValue.json(wrong[:_SAMPLE]),
        },
    )


def check_ohlc_invariants(
    cur: cursor, table: str, windows: Sequence[Window], counted: int | None = None
) -> dg.AssetCheckResult:
    """low <= open, close <= high; low <= high; volumes and trade counts >= 0.

    ``counted``: the violations the writer's scan found (``scan_counts``); none spares this scan.
    """
    rows = _rows_in_windows(
        cur,
        table,
        windows,
        "t.symbol, t.open_time, t.open::text, t.high::text, t.low::text, t.close::text, t.volume::text",
        f"WHERE {_OHLC_BROKEN} ORDER BY 1, 2",
        counted,
    )
    return dg.AssetCheckResult(
        check_name=OHLC_INVARIANTS,
        passed=not rows,
        metadata={
            "violations": len(rows),
            "examples": dg.MetadataValue.json(
                [
                    {
                        "symbol": r[0],
                        "open_time": r[1].isoformat(),
                        "open": r[2],
                        "high": r[3],
                        "low": r[4],
                        "close": r[5],
                        "volume": r[6],
                    }
                    for r in rows[:_SAMPLE]
                ]
            ),
        },
    )


def check_gaps(gap_descriptions: Sequence[str], missing: int) -> dg.AssetCheckResult:
    """Gaps (exchange outages or missing data) listed as a warning; never filled."""
    return dg.AssetCheckResult(
        check_name=GAPS,
        passed=missing == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "missing_candles": missing,
            "gaps": dg.MetadataValue.json(list(gap_descriptions[:200])),
        },
    )


def candle_check_specs(asset_key: str) -> list[dg.AssetCheckSpec]:
    """The checks every candle asset carries."""
    return [
        dg.AssetCheckSpec(
            ON_GRID,
            asset=asset_key,
            description="Candles open on the interval grid; close_time = open_time + interval - 1 ms.",
        ),
        dg.AssetCheckSpec(
            DAY_COUNTS,
            asset=asset_key,
            description="Each day holds the candles expected minus the gaps it reported.",
        ),
        dg.AssetCheckSpec(
            OHLC_INVARIANTS,
            asset=asset_key,
            description="low <= open, close <= high; volumes >= 0.",
        ),
        dg.AssetCheckSpec(
            GAPS,
            asset=asset_key,
            description="Missing candles are listed (a warning: exchange outages are never filled).",
        ),
    ]
