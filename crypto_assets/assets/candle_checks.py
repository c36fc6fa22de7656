"""Data-quality checks on the windows of a candle table that a run just wrote.

Each function returns a ``dg.AssetCheckResult`` with the offending rows in its metadata, so a
failed check shows in the Dagster UI with what to look at. An exchange outage (a gap) is a
warning: it is reported and no candle is invented.
"""

from __future__ import annotations

from typing import Sequence

import dagster as dg

from crypto_assets.warehouse.candles import ms_to_pg

Window = tuple[str, int, int]  # symbol, start ms, end ms (exclusive)

NO_DUPLICATES = "no_duplicate_open_times"
OHLC_INVARIANTS = "ohlc_invariants"
GAPS = "gaps_reported"
_SAMPLE = 20


def windows_clause(windows: Sequence[Window]) -> tuple[str, list]:
    """A WITH clause ``w(symbol, lo, hi)`` holding the windows, and its parameters."""
    values = ", ".join("(%s, %s::timestamptz, %s::timestamptz)" for _ in windows)
    params = [v for symbol, lo, hi in windows for v in (symbol, ms_to_pg(lo), ms_to_pg(hi))]
    return f"WITH w(symbol, lo, hi) AS (VALUES {values})", params


def _rows_in_windows(cur, table: str, windows: Sequence[Window], select: str, rest: str) -> list[tuple]:
    """``SELECT {select} FROM table t`` joined to the windows, then ``rest`` (WHERE/GROUP/ORDER)."""
    if not windows:
        return []
    with_clause, params = windows_clause(windows)
    cur.execute(
        f"{with_clause} SELECT {select} FROM {table} t JOIN w"
        f" ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi {rest}",
        params,
    )
    return cur.fetchall()


def check_no_duplicates(cur, table: str, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """Each (symbol, open_time) appears once in the windows."""
    rows = _rows_in_windows(
        cur, table, windows, "t.symbol, t.open_time, count(*)", "GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2"
    )
    return dg.AssetCheckResult(
        check_name=NO_DUPLICATES,
        passed=not rows,
        metadata={
            "duplicates": len(rows),
            "examples": dg.MetadataValue.json([[s, t.isoformat(), n] for s, t, n in rows[:_SAMPLE]]),
        },
    )


def check_ohlc_invariants(cur, table: str, windows: Sequence[Window]) -> dg.AssetCheckResult:
    """low <= open, close <= high; low <= high; volumes and trade counts >= 0."""
    rows = _rows_in_windows(
        cur, table, windows,
        "t.symbol, t.open_time, t.open::text, t.high::text, t.low::text, t.close::text, t.volume::text",
        "WHERE NOT (t.low <= t.open AND t.open <= t.high AND t.low <= t.close AND t.close <= t.high"
        " AND t.volume >= 0 AND t.quote_volume >= 0 AND t.trade_count >= 0"
        " AND t.taker_buy_base_volume >= 0 AND t.taker_buy_quote_volume >= 0) ORDER BY 1, 2",
    )
    return dg.AssetCheckResult(
        check_name=OHLC_INVARIANTS,
        passed=not rows,
        metadata={
            "violations": len(rows),
            "examples": dg.MetadataValue.json(
                [{"symbol": r[0], "open_time": r[1].isoformat(), "open": r[2], "high": r[3], "low": r[4], "close": r[5], "volume": r[6]} for r in rows[:_SAMPLE]]
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
    """The three checks every candle asset carries."""
    return [
        dg.AssetCheckSpec(NO_DUPLICATES, asset=asset_key, description="Every (symbol, open_time) appears once."),
        dg.AssetCheckSpec(OHLC_INVARIANTS, asset=asset_key, description="low <= open, close <= high; volumes >= 0."),
        dg.AssetCheckSpec(GAPS, asset=asset_key, description="Missing candles are listed (a warning: exchange outages are never filled)."),
    ]
