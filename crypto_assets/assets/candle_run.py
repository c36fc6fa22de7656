"""One run of a candle asset (``candles_15m``, ``candles_1m``): symbols at once, each partition reported.

Each symbol is written in its own connection and transaction, several symbols at once (one
thread each: the database's cores load them side by side), so one symbol that is not trading
(``HALT``, ``BREAK``, delisted) or that the exchange keeps failing for loses only its own
partitions: the others are committed and materialized, and the run fails naming the symbol and
why (``partition_results.finish``). Every partition's metadata is its own, measured in the
table by the symbol's transaction after its write: rows and first/last open time as stored,
candles expected, gaps found, and which source (archive or REST) gave how many rows
(``measure``). The same scan counts what the grid and OHLC checks look for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.candle_checks import (
    OFF_GRID_COUNT,
    OHLC_COUNT,
    check_day_counts,
    check_gaps,
    check_ohlc_invariants,
    check_on_grid,
    scan_counts,
)
from crypto_assets.assets.kline_ingest import IngestStats
from crypto_assets.assets.kline_source import source_metadata
from crypto_assets.assets.partition_results import empty_stats, table_stats
from crypto_assets.assets.partitions import day_start, partition_key
from crypto_assets.binance.errors import BinanceError
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.wire import datetime_to_ms, ms_to_datetime
from crypto_assets.resources import WarehouseResource
from crypto_assets.warehouse.chunks import create_chunks

DayRanges = list[tuple[date, date]]
Written = TypeVar("Written")


def not_trading_reason(symbol: str, status: str | None) -> str | None:
    """Why a symbol's partitions cannot run now, or None when it is TRADING."""
    if status is None:
        return f"{symbol} is not listed on the exchange (delisted or unknown)"
    if status != "TRADING":
        return f"{symbol} has status {status} on the exchange, not TRADING"
    return None


def write_per_symbol(
    context: dg.AssetExecutionContext,
    client: BinanceRestClient,
    ranges: Mapping[str, DayRanges],
    write_symbol: Callable[[str, DayRanges], Written],
    writers: int,
) -> tuple[dict[str, Written], dict[str, str]]:
    """Call ``write_symbol`` (one transaction each) for every TRADING symbol, ``writers`` symbols
    at once, in symbol order; returns what each wrote (by symbol, in order) and the failed
    symbols with why. An error other than the exchange's fails the run once the others end."""
    statuses = client.symbol_statuses(list(ranges))
    failures: dict[str, str] = {}
    trading = []
    for symbol in sorted(ranges):
        reason = not_trading_reason(symbol, statuses.get(symbol))
        if reason is None:
            trading.append(symbol)
        else:
            failures[symbol] = reason
    with ThreadPoolExecutor(max(1, min(writers, len(trading))), "symbol") as pool:
        futures = {symbol: pool.submit(write_symbol, symbol, ranges[symbol]) for symbol in trading}
    written: dict[str, Written] = {}
    for symbol, future in futures.items():
        try:
            written[symbol] = future.result()
        except BinanceError as err:
            failures[symbol] = f"{symbol}: {err}"
    for _, reason in sorted(failures.items()):
        context.log.error(f"{reason}; its partitions are left failed, the other symbols go on")
    return written, dict(sorted(failures.items()))


def create_run_chunks(
    warehouse: WarehouseResource,
    table: str,
    ranges: Mapping[str, DayRanges],
    constants: Mapping[str, str] | None = None,
) -> None:
    """Before several symbols load at once: create the table's chunks for the run's days in a
    transaction of their own, so the symbols' transactions do not wait on each other's
    (``warehouse.chunks``)."""
    if len(ranges) < 2 or warehouse.writers < 2:
        return
    first = min(first for runs in ranges.values() for first, _ in runs)
    last = max(last for runs in ranges.values() for _, last in runs)
    with warehouse.transaction() as conn, conn.cursor() as cur:
        create_chunks(
            cur,
            table,
            datetime_to_ms(day_start(first)),
            datetime_to_ms(day_start(last + timedelta(days=1))),
            constants,
        )


def stored_windows(results: Sequence[IngestStats]) -> list[tuple[str, int, int]]:
    """The (symbol, start, end) windows a run replaced: its days up to the last closed candle."""
    return [(s.symbol, s.start_ms, s.end_ms) for s in results if s.end_ms > s.start_ms]


@dataclass(frozen=True)
class Measured:
    """One symbol's windows as its transaction wrote them, measured in the table before commit."""

    results: list[IngestStats]
    metadata: dict[str, dict[str, Any]]  # per partition key
    reported: dict[str, tuple[int, int]]  # per partition key: candles expected, reported missing
    off_grid: int  # candles off the interval grid (``check_on_grid`` lists them)
    ohlc_violations: int  # rows breaking the OHLC invariants (``check_ohlc_invariants``)

    @property
    def stored_rows(self) -> dict[str, int]:
        return {key: m["rows"] for key, m in self.metadata.items()}


def measure(
    cur: cursor,
    table: str,
    results: Sequence[IngestStats],
    step_ms: int,
    extra: Mapping[str, str] | None = None,
) -> Measured:
    """Per partition key: its metadata and (candles expected, candles missing) for
    ``day_counts``, and what the grid and OHLC checks look for; all in one scan of the windows."""
    counts = scan_counts(step_ms)
    stored = table_stats(
        cur, table, "open_time", stored_windows(results), {**(extra or {}), **counts}
    )
    found = {name: sum(stats.pop(name) for stats in stored.values()) for name in counts}
    metadata: dict[str, dict[str, Any]] = {}
    reported: dict[str, tuple[int, int]] = {}
    for stats in results:
        sources = source_metadata(stats.symbol, stats.sources)
        for day, report in stats.day_reports(step_ms).items():
            key = str(partition_key(day, stats.symbol))
            metadata[key] = {
                **stored.get(key, empty_stats(list(extra or {}))),
                **sources.get(key, {"source": "none", "archive_rows": 0, "rest_rows": 0}),
                "expected_candles": report.expected,
                "missing_candles": report.missing,
                "gaps": len(report.gaps),
                "gap_list": dg.MetadataValue.json(report.gaps[:50]),
                **_listing(stats, day),
            }
            reported[key] = (report.expected, report.missing)
    return Measured(list(results), metadata, reported, found[OFF_GRID_COUNT], found[OHLC_COUNT])


def _listing(stats: IngestStats, day: date) -> dict[str, Any]:
    """On days up to the symbol's first candle: when it was listed (nothing was expected before)."""
    if stats.listed_from_ms is None or ms_to_datetime(stats.listed_from_ms).date() < day:
        return {}
    return {"listed_from": f"{ms_to_datetime(stats.listed_from_ms):%Y-%m-%d %H:%M} UTC"}


def candle_checks(
    cur: cursor, table: str, measured: Sequence[Measured], step_ms: int
) -> list[dg.AssetCheckResult]:
    """The checks of the windows a run wrote (see ``candle_checks``); the grid and OHLC checks
    query the table only to list what the symbols' scans counted."""
    results = [stats for m in measured for stats in m.results]
    windows = stored_windows(results)
    gaps = [text for s in results for text in s.describe_gaps(step_ms)]
    reported = {key: r for m in measured for key, r in m.reported.items()}
    stored_rows = {key: rows for m in measured for key, rows in m.stored_rows.items()}
    return [
        check_on_grid(cur, table, windows, step_ms, sum(m.off_grid for m in measured)),
        check_ohlc_invariants(cur, table, windows, sum(m.ohlc_violations for m in measured)),
        check_day_counts(reported, stored_rows),
        check_gaps(gaps, sum(count for s in results for _, count in s.gaps)),
    ]


def log_gaps(
    context: dg.AssetExecutionContext, measured: Sequence[Measured], step_ms: int, limit: int = 20
) -> None:
    """Warn of days before a symbol's listing, then of the gaps (the first ``limit``)."""
    results = [stats for m in measured for stats in m.results]
    for stats in results:
        if stats.listed_from_ms is not None:
            context.log.warning(
                f"{stats.symbol} has no candles before {ms_to_datetime(stats.listed_from_ms):%Y-%m-%d %H:%M} UTC "
                f"(its first candle); stored what exists from {ms_to_datetime(stats.start_ms):%Y-%m-%d}"
            )
    gaps = [text for s in results for text in s.describe_gaps(step_ms)]
    for text in gaps[:limit]:
        context.log.warning(f"gap (exchange outage or missing data; reported, not filled): {text}")
    if len(gaps) > limit:
        context.log.warning(f"... and {len(gaps) - limit} more gaps (see the gaps_reported check)")
