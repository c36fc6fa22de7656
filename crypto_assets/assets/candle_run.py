"""One run of a candle asset (``candles_15m``, ``candles_1m``): symbol by symbol, each partition reported.

Each symbol is written in its own transaction, so one symbol that is not trading (``HALT``,
``BREAK``, delisted) or that the exchange keeps failing for loses only its own partitions: the
others are committed and materialized, and the run fails naming the symbol and why
(``partition_results.finish``). Every partition's metadata is its own: rows and first/last
open time as stored, candles expected, gaps found, and which source (archive or REST) gave
how many rows (``partition_metadata``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.candle_checks import (
    check_day_counts,
    check_gaps,
    check_ohlc_invariants,
    check_on_grid,
)
from crypto_assets.assets.kline_ingest import IngestStats
from crypto_assets.assets.kline_source import source_metadata
from crypto_assets.assets.partition_results import empty_stats, table_stats
from crypto_assets.assets.partitions import partition_key
from crypto_assets.binance.errors import BinanceError
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.wire import ms_to_datetime

DayRanges = list[tuple[date, date]]
WriteSymbol = Callable[[str, DayRanges], object]


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
    write_symbol: WriteSymbol,
) -> dict[str, str]:
    """Call ``write_symbol`` (one transaction each) for every TRADING symbol; returns the failed
    symbols with why."""
    statuses = client.symbol_statuses(list(ranges))
    failures: dict[str, str] = {}
    for symbol in sorted(ranges):
        reason = not_trading_reason(symbol, statuses.get(symbol))
        if reason is None:
            try:
                write_symbol(symbol, ranges[symbol])
                continue
            except BinanceError as err:
                reason = f"{symbol}: {err}"
        failures[symbol] = reason
        context.log.error(f"{reason}; its partitions are left failed, the other symbols go on")
    return failures


def stored_windows(results: Sequence[IngestStats]) -> list[tuple[str, int, int]]:
    """The (symbol, start, end) windows a run replaced: its days up to the last closed candle."""
    return [(s.symbol, s.start_ms, s.end_ms) for s in results if s.end_ms > s.start_ms]


def partition_metadata(
    cur: cursor,
    table: str,
    results: Sequence[IngestStats],
    step_ms: int,
    extra: Mapping[str, str] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[int, int]]]:
    """Per partition key: its metadata, and (candles expected, candles missing) for ``day_counts``."""
    stored = table_stats(cur, table, "open_time", stored_windows(results), extra)
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
    return metadata, reported


def _listing(stats: IngestStats, day: date) -> dict[str, Any]:
    """On days up to the symbol's first candle: when it was listed (nothing was expected before)."""
    if stats.listed_from_ms is None or ms_to_datetime(stats.listed_from_ms).date() < day:
        return {}
    return {"listed_from": f"{ms_to_datetime(stats.listed_from_ms):%Y-%m-%d %H:%M} UTC"}


def candle_checks(
    cur: cursor,
    table: str,
    results: Sequence[IngestStats],
    step_ms: int,
    reported: Mapping[str, tuple[int, int]],
    stored_rows: Mapping[str, int],
) -> list[dg.AssetCheckResult]:
    """The checks of the windows a run wrote (see ``candle_checks``)."""
    windows = stored_windows(results)
    gaps = [text for s in results for text in s.describe_gaps(step_ms)]
    return [
        check_on_grid(cur, table, windows, step_ms),
        check_ohlc_invariants(cur, table, windows),
        check_day_counts(reported, stored_rows),
        check_gaps(gaps, sum(count for s in results for _, count in s.gaps)),
    ]


def log_gaps(
    context: dg.AssetExecutionContext, results: Sequence[IngestStats], step_ms: int, limit: int = 20
) -> None:
    """Warn of days before a symbol's listing, then of the gaps (the first ``limit``)."""
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
