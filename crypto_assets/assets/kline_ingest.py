"""Load a symbol's closed klines for a time range from REST into a candle table.

Shared by the candle assets: delete the window, COPY every closed candle the exchange has,
and report what arrived (rows, bounds) and what did not (gaps, days before the listing).
Gaps are reported, never filled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from psycopg2.extensions import cursor

from crypto_assets.assets.kline_source import DaySource, KlineSource
from crypto_assets.assets.partitions import day_start
from crypto_assets.binance.wire import DAY_MS, datetime_to_ms, interval_ms, ms_to_datetime
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, StreamingCopy, delete_window, find_gaps


@dataclass
class IngestStats:
    """What one symbol's range brought in."""

    symbol: str
    start_ms: int
    end_ms: int  # exclusive; clipped to the last closed candle
    requested_end_ms: int  # exclusive; the end of the range's last day
    rows: int = 0
    first_open_ms: int | None = None
    last_open_ms: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)
    listed_from_ms: int | None = None  # set when the range starts before the symbol's first candle
    expected_from_ms: int | None = None  # first open time a candle is expected at (None: none is)
    sources: dict[int, DaySource] = field(
        default_factory=dict
    )  # per day (start ms): archive or REST, rows

    def describe_gaps(self, step_ms: int) -> list[str]:
        """Human-readable gaps: 'BTCUSDT 2018-02-08 00:30 .. 2018-02-09 09:15 (131 candles missing)'."""
        return [
            f"{self.symbol} {ms_to_datetime(start):%Y-%m-%d %H:%M} .. "
            f"{ms_to_datetime(start + (count - 1) * step_ms):%Y-%m-%d %H:%M} ({count} candles missing)"
            for start, count in self.gaps
        ]

    def day_reports(self, step_ms: int) -> dict[date, DayReport]:
        """Per UTC day of the range: candles expected there, and the gaps that fall inside it."""
        expected_from = self.expected_from_ms if self.expected_from_ms is not None else self.end_ms
        reports = {}
        for lo in range(self.start_ms, self.requested_end_ms, DAY_MS):
            hi = lo + DAY_MS
            first, last = max(lo, expected_from), min(hi, self.end_ms)
            expected = max(0, -(-(last - first) // step_ms))
            gaps = [
                clipped
                for start, count in self.gaps
                if (clipped := _clip(start, count, step_ms, lo, hi))[1] > 0
            ]
            described = IngestStats(self.symbol, lo, last, hi, gaps=gaps).describe_gaps(step_ms)
            reports[ms_to_datetime(lo).date()] = DayReport(
                expected, sum(count for _, count in gaps), described
            )
        return reports


@dataclass(frozen=True)
class DayReport:
    """One partition's share of an ingest: candles expected, candles missing, the gaps in words."""

    expected: int
    missing: int
    gaps: list[str]


def _clip(start: int, count: int, step_ms: int, lo: int, hi: int) -> tuple[int, int]:
    """The part of a gap (first slot's open time, slots) that lies inside [lo, hi)."""
    first = start if start >= lo else start + -(-(lo - start) // step_ms) * step_ms
    end = min(start + count * step_ms, hi)
    return first, max(0, -(-(end - first) // step_ms))


def ingest_klines(
    client: KlineSource,
    cur: cursor,
    table: str,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    *,
    constants: dict[str, object] | None = None,
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
    stats = IngestStats(symbol, start_ms, max(start_ms, closed_end), end_ms)
    if closed_end <= start_ms:
        return stats
    delete_window(cur, table, symbol, start_ms, closed_end)
    constants = constants or {}
    open_times: list[int] = []
    with StreamingCopy(cur, table, (*CANDLE_COLUMNS, *constants)) as copy:
        for day in client.iter_day_klines(symbol, interval, start_ms, closed_end, constants):
            copy.write(day.rows)
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
    stats.expected_from_ms = expected_from
    stats.gaps = find_gaps(open_times, expected_from, closed_end, step)
    return stats


def ingest_day_ranges(
    client: KlineSource,
    cur: cursor,
    table: str,
    interval: str,
    ranges: dict[str, list[tuple[date, date]]],
    *,
    constants: dict[str, object] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[IngestStats]:
    """``ingest_klines`` for each symbol's inclusive UTC day ranges (a run's partitions)."""
    results = []
    for symbol, runs in ranges.items():
        for first_day, last_day in runs:
            start_ms = datetime_to_ms(day_start(first_day))
            end_ms = datetime_to_ms(day_start(last_day + timedelta(days=1)))
            results.append(
                ingest_klines(
                    client,
                    cur,
                    table,
                    symbol,
                    interval,
                    start_ms,
                    end_ms,
                    constants=constants,
                    progress=progress,
                )
            )
    return results
