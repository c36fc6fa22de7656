"""Load a symbol's closed klines for a time range from REST into a candle table.

Shared by the candle assets: delete the window, COPY every closed candle the exchange has,
and report what arrived (rows, bounds) and what did not (gaps, days before the listing).
Gaps are reported, never filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import dagster as dg

from crypto_assets.assets.kline_source import DaySource, KlineSource
from crypto_assets.assets.partitions import day_start
from crypto_assets.binance.wire import datetime_to_ms, interval_ms, ms_to_datetime
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, StreamingCopy, delete_window, find_gaps


@dataclass
class IngestStats:
    """What one symbol's range brought in."""

    symbol: str
    start_ms: int
    end_ms: int  # exclusive; clipped to the last closed candle
    rows: int = 0
    first_open_ms: int | None = None
    last_open_ms: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    listed_from_ms: int | None = None  # set when the range starts before the symbol's first candle
    sources: dict[int, DaySource] = field(default_factory=dict)  # per day (start ms): archive or REST, rows

    def describe_gaps(self, step_ms: int) -> list[str]:
        """Human-readable gaps: 'BTCUSDT 2018-02-08 00:30 .. 2018-02-09 09:15 (131 candles missing)'."""
        return [
            f"{self.symbol} {ms_to_datetime(start):%Y-%m-%d %H:%M} .. "
            f"{ms_to_datetime(start + (count - 1) * step_ms):%Y-%m-%d %H:%M} ({count} candles missing)"
            for start, count in self.gaps
        ]


def ingest_klines(
    client: KlineSource,
    cur,
    table: str,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    *,
    constants: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestStats:
    """Replace ``table``'s candles of ``symbol`` opening in [start_ms, end_ms) with the exchange's
    closed ones, from its archive or REST (``kline_source``).

    ``constants`` fills extra columns with one value each (``candles_1m``: is_closed, source).
    Runs inside the caller's transaction: nothing is visible until it commits.
    """
    step = interval_ms(interval)
    now_ms = client.server_time_ms()
    closed_end = min(end_ms, (now_ms // step) * step)
    stats = IngestStats(symbol, start_ms, max(start_ms, closed_end))
    if closed_end <= start_ms:
        return stats
    delete_window(cur, table, symbol, start_ms, closed_end)
    constants = constants or {}
    columns = (*CANDLE_COLUMNS, *constants)
    suffix = "".join(f"\t{value}" for value in constants.values())
    open_times: list[int] = []
    with StreamingCopy(cur, table, columns) as copy:
        for day in client.iter_day_klines(symbol, interval, start_ms, closed_end):
            copy.write(day.copy_text(suffix))
            open_times.extend(day.open_times)
            stats.sources[day.start_ms] = DaySource(day.source, len(day.open_times), day.file)
            if progress is not None:
                progress(len(day.open_times))
    stats.rows = len(open_times)
    if open_times:
        stats.first_open_ms, stats.last_open_ms = open_times[0], open_times[-1]
    expected_from = start_ms
    if not open_times or open_times[0] - start_ms >= step:
        first = client.first_open_time_ms(symbol, interval)
        if first is None or first >= closed_end:
            stats.listed_from_ms = first
            return stats
        if first > start_ms:
            stats.listed_from_ms = first
            expected_from = first - (first - start_ms) % step
    stats.gaps = find_gaps(open_times, expected_from, closed_end, step)
    return stats


def ingest_day_ranges(
    client: KlineSource,
    cur,
    table: str,
    interval: str,
    ranges: dict[str, list[tuple[date, date]]],
    *,
    constants: dict[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[IngestStats]:
    """``ingest_klines`` for each symbol's inclusive UTC day ranges (a run's partitions)."""
    results = []
    for symbol, runs in ranges.items():
        for first_day, last_day in runs:
            start_ms = datetime_to_ms(day_start(first_day))
            end_ms = datetime_to_ms(day_start(last_day + timedelta(days=1)))
            results.append(
                ingest_klines(client, cur, table, symbol, interval, start_ms, end_ms, constants=constants, progress=progress)
            )
    return results


@dataclass(frozen=True)
class RunSummary:
    """What a run's ingests add up to, as materialization metadata and gap reports."""

    results: list[IngestStats]
    step_ms: int

    @property
    def gaps(self) -> list[str]:
        return [text for s in self.results for text in s.describe_gaps(self.step_ms)]

    @property
    def missing(self) -> int:
        return sum(count for s in self.results for _, count in s.gaps)

    def metadata(self) -> dict:
        """rows, symbols, first/last open time and the gaps found: on every materialization."""
        firsts = [s.first_open_ms for s in self.results if s.first_open_ms is not None]
        lasts = [s.last_open_ms for s in self.results if s.last_open_ms is not None]
        gaps = self.gaps
        return {
            "rows": sum(s.rows for s in self.results),
            "symbols": ", ".join(sorted({s.symbol for s in self.results})),
            "first_open_time": ms_to_datetime(min(firsts)).isoformat() if firsts else "none",
            "last_open_time": ms_to_datetime(max(lasts)).isoformat() if lasts else "none",
            "gaps": len(gaps),
            "missing_candles": self.missing,
            "gap_list": dg.MetadataValue.json(gaps[:200]),
        }

    def log_gaps(self, log, limit: int = 20) -> None:
        for text in self.gaps[:limit]:
            log.warning(f"gap (exchange outage or missing data; reported, not filled): {text}")
