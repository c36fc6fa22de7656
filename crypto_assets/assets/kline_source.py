"""Where a candle comes from: Binance's archive for the days it has published, REST for the rest.

The one rule, applied inside the candle assets (so sensors, schedules, UI backfills and the CLI
all follow it), for one symbol's range of UTC days:

* a calendar month wholly inside the range, and over, comes from its monthly archive file;
* every other whole day that is over comes from its daily archive file;
* today, and every day whose file cannot be used, comes from REST: a file not published yet
  (yesterday early in the day, last month in its first days) or at all (404), a file failing
  its checksum, a zip that cannot be read, rows that do not parse, a download cut short or too
  slow. A failed monthly file hands its days to the daily files, a failed daily file to REST.
  When the archive host cannot be reached at all, every remaining day comes from REST.

Each fallback is a warning naming the file or host, except the expected ones (a recent file
not published yet, days before the symbol was listed), which are logged as info. A file is used
whole or not at all: it is verified and parsed completely before any of its rows is yielded.
With no archive (``BINANCE_ARCHIVE_URL`` empty) everything comes from REST.
"""

from __future__ import annotations

import logging
import threading
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any

import dagster as dg
import polars as pl

from crypto_assets.assets.partitions import partition_key
from crypto_assets.binance.archive import (
    ArchiveError,
    ArchiveFile,
    ArchiveFileMissing,
    ArchiveUnreachable,
    BinanceArchiveClient,
    read_frame,
)
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.wire import DAY_MS, Kline, interval_ms, ms_to_datetime
from crypto_assets.warehouse.binary_copy import BinaryRows, candle_rows
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, kline_frame

ARCHIVE = "archive"
REST = "rest"
# How long after its period ends a file may still be unpublished without it being news.
DAILY_PUBLICATION_GRACE_MS = DAY_MS
MONTHLY_PUBLICATION_GRACE_MS = 7 * DAY_MS
_DAILY_FILES, _REST = "daily files", "REST"  # where a failed file's days come from instead
REST_DAYS_PER_ENCODING = 7  # a week of 1m candles: 10,080 rows, about 0.2 s of REST at best


@dataclass(frozen=True)
class DayKlines:
    """One UTC day's candles (or the part of it in the range) and where they came from.

    ``rows`` are COPY binary rows (``binary_copy``) of the table's candle columns and the
    caller's constant columns; an archive file's days are encoded by polars and numpy as the
    file is read (in a pool thread, mostly without the GIL), a REST page's as it arrives.
    """

    start_ms: int
    source: str  # ARCHIVE or REST
    rows: bytes
    open_times: list[int]
    file: str | None = None  # the archive file's name, when the archive gave them


@dataclass(frozen=True)
class _Step:
    """Part of the range, fetched one way: one archive file, or REST (``file`` None)."""

    start_ms: int
    end_ms: int
    file: ArchiveFile | None

    @property
    def archive_file(self) -> ArchiveFile:
        """The step's file, for the code that handles archive steps only."""
        if self.file is None:
            raise ValueError(f"a REST step ({self.start_ms}..{self.end_ms}) has no archive file")
        return self.file


class KlineSource:
    """Closed candles per UTC day from the archive or REST, by the rule above.

    ``ingest_klines`` also reads the exchange's clock and the symbol's first candle through it
    (both from REST; the first candle is asked for at most once per symbol and interval).
    Thread-safe: a run reads several symbols at once, one thread each.
    """

    def __init__(
        self,
        rest: BinanceRestClient,
        archive: BinanceArchiveClient | None = None,
        log: logging.Logger | dg.DagsterLogManager | None = None,
    ) -> None:
        self.rest = rest
        self.archive = archive
        self._log = log
        self._archive_down = archive is None
        self._first_open: dict[tuple[str, str], int | None] = {}
        self._lock = threading.Lock()  # guards days and the archive-down warning
        self.days: Counter[str] = Counter()

    # -- what ingest_klines reads from REST -------------------------------------------------

    def server_time_ms(self) -> int:
        return self.rest.server_time_ms()

    def first_open_time_ms(self, symbol: str, interval: str) -> int | None:
        key = (symbol, interval)
        if key not in self._first_open:
            self._first_open[key] = self.rest.first_open_time_ms(symbol, interval)
        return self._first_open[key]

    def describe(self) -> str:
        """Progress detail: 'archive 14 files, 36.2 MB; days: 420 archive, 2 REST'."""
        days = ", ".join(
            f"{count:,} {source if source == ARCHIVE else 'REST'}"
            for source, count in sorted(self.days.items())
        )
        if self.archive is None:
            return f"days: {days or 'none yet'} (no archive configured)"
        files, size = self.archive.stats["files"], self.archive.stats["bytes"]
        return f"archive {files:,} file{'' if files == 1 else 's'}, {size / 1e6:,.1f} MB; days: {days or 'none yet'}"

    # -- the rule ----------------------------------------------------------------------------

    def iter_day_klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        end_ms: int,
        constants: Mapping[str, object] | None = None,
    ) -> Iterator[DayKlines]:
        """Candles opening in [start_ms, end_ms), one ``DayKlines`` per UTC day, oldest first.

        Every day of the range is yielded, with no candles where none exist. ``end_ms`` must
        not be past the last closed candle (the caller clips it to the exchange's clock).
        ``constants`` are more columns after the candle's, one value each (``{"source": "rest"}``).
        Archive files are downloaded ``concurrency`` at a time ahead of the day being yielded.
        """
        step_ms = interval_ms(interval)
        encode = _Encoder(symbol, constants or {})
        now_ms = self.rest.server_time_ms()
        queue = deque(self._plan(symbol, interval, start_ms, end_ms, now_ms, step_ms))
        rest_from: int | None = None  # start of the REST days not yet fetched
        pool = (
            ThreadPoolExecutor(max_workers=self.archive.concurrency, thread_name_prefix="archive")
            if self.archive
            else None
        )  # a plan has archive steps only when there is an archive (and so a pool)
        fetches: dict[_Step, Future[Any]] = {}
        try:
            while queue:
                step = queue.popleft()
                if step.file is None or self._archive_down or pool is None:
                    rest_from = step.start_ms if rest_from is None else rest_from
                    continue
                self._prefetch(pool, fetches, step, queue, encode)
                days, fallback = self._use(fetches.pop(step), step, symbol, now_ms)
                if days is None:
                    if fallback == _DAILY_FILES:
                        queue.extendleft(reversed(self._daily_steps(step)))
                    else:
                        rest_from = step.start_ms if rest_from is None else rest_from
                    continue
                if rest_from is not None:
                    yield from self._rest_days(encode, interval, rest_from, step.start_ms)
                    rest_from = None
                self._count(ARCHIVE, len(days))
                yield from days
            if rest_from is not None:
                yield from self._rest_days(encode, interval, rest_from, end_ms)
        finally:
            if pool is not None:
                pool.shutdown(
                    wait=False, cancel_futures=True
                )  # an error is not held up by downloads

    def _archive(self) -> BinanceArchiveClient:
        """The archive client, for archive steps (planned only when there is one)."""
        if self.archive is None:
            raise ValueError("an archive step was planned without an archive client")
        return self.archive

    def _plan(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, now_ms: int, step_ms: int
    ) -> list[_Step]:
        """Monthly files for whole months that are over, daily files for other whole days, REST
        for the rest (no archive files for intervals that do not divide a day)."""
        steps: list[_Step] = []
        use_archive = self.archive is not None and DAY_MS % step_ms == 0
        day = start_ms - start_ms % DAY_MS
        while day < end_ms:
            lo, hi = max(day, start_ms), min(day + DAY_MS, end_ms)
            whole = use_archive and lo == day and hi == day + DAY_MS and hi <= now_ms
            steps.append(
                _Step(
                    lo,
                    hi,
                    ArchiveFile.day(symbol, interval, ms_to_datetime(day).date())
                    if whole
                    else None,
                )
            )
            day += DAY_MS
        return _merge_months(steps, symbol, interval, now_ms)

    def _prefetch(
        self,
        pool: ThreadPoolExecutor,
        fetches: dict[_Step, Future[Any]],
        step: _Step,
        queue: deque[Any],
        encode: _Encoder,
    ) -> None:
        """Start loading ``step``'s file and the next ones (``concurrency`` files in all)."""
        upcoming = (s for s in queue if s.file is not None)
        for ahead in [step, *islice(upcoming, self._archive().concurrency - 1)]:
            if ahead not in fetches:
                fetches[ahead] = pool.submit(self._load, ahead, encode)

    def _load(self, step: _Step, encode: _Encoder) -> list[DayKlines]:
        """Download, verify and read ``step``'s file; its days as COPY rows (in a pool thread:
        polars and numpy do the work, mostly with the GIL released)."""
        frame = read_frame(self._archive().fetch(step.archive_file))
        day_starts = list(range(step.start_ms, step.end_ms, DAY_MS))
        bounds = (
            frame["open_time"]
            .search_sorted(pl.Series([*day_starts, step.end_ms], dtype=pl.Int64))
            .to_list()
        )
        first, last = bounds[0], bounds[-1]
        rows = encode(frame.slice(first, last - first))
        return [
            DayKlines(
                day_start,
                ARCHIVE,
                rows.slice(lo - first, hi - first),
                frame["open_time"].slice(lo, hi - lo).to_list(),
                step.archive_file.name,
            )
            for day_start, lo, hi in zip(day_starts, bounds, bounds[1:], strict=False)
        ]

    def _use(
        self, fetch: Future[Any], step: _Step, symbol: str, now_ms: int
    ) -> tuple[list[DayKlines] | None, str | None]:
        """(the file's days, None), or (None, where its days come from instead) after logging why."""
        file = step.archive_file
        finer = _DAILY_FILES if file.period == "monthly" else _REST
        try:
            return fetch.result(), None
        except ArchiveUnreachable as err:
            with self._lock:
                first, self._archive_down = not self._archive_down, True
            if first:
                self._warn(f"{err}: every remaining day of this run comes from REST")
            return None, _REST
        except ArchiveFileMissing as err:
            return None, self._missing(err, file, symbol, now_ms, finer)
        except ArchiveError as err:
            self._warn(f"{err}; {self._instead(file)}")
            return None, finer

    def _missing(
        self, err: ArchiveFileMissing, file: ArchiveFile, symbol: str, now_ms: int, finer: str
    ) -> str:
        """Log a 404 (info when expected) and say where the file's days come from instead."""
        grace = (
            MONTHLY_PUBLICATION_GRACE_MS if file.period == "monthly" else DAILY_PUBLICATION_GRACE_MS
        )
        if now_ms - file.end_ms < grace:
            self._info(f"{file.name} is not published yet; {self._instead(file)}")
            return finer
        first = self.first_open_time_ms(symbol, file.interval)
        if first is None or first >= file.end_ms:
            listed = (
                "at all yet"
                if first is None
                else f"before {ms_to_datetime(first):%Y-%m-%d %H:%M} UTC"
            )
            self._info(
                f"{file.name} does not exist: {symbol} has no {file.interval} candles {listed}"
            )
            return _REST  # REST is not asked for the days before the first candle either
        self._warn(f"{err}; {self._instead(file)}")
        return finer

    @staticmethod
    def _instead(file: ArchiveFile) -> str:
        if file.period == "monthly":
            return f"{file.symbol} {file.interval} {file.label} comes from the daily files"
        return f"{file.label} {file.symbol} {file.interval} comes from REST"

    @staticmethod
    def _daily_steps(month: _Step) -> list[_Step]:
        file = month.archive_file
        return [
            _Step(
                day,
                day + DAY_MS,
                ArchiveFile.day(file.symbol, file.interval, ms_to_datetime(day).date()),
            )
            for day in range(month.start_ms, month.end_ms, DAY_MS)
        ]

    def _rest_days(
        self, encode: _Encoder, interval: str, start_ms: int, end_ms: int
    ) -> Iterator[DayKlines]:
        """REST's candles in [start_ms, end_ms), regrouped by UTC day (every day yielded), encoded
        ``REST_DAYS_PER_ENCODING`` days at a time (one encoding costs a few milliseconds whatever
        its size: per day, that was most of the CPU of a REST backfill).

        Days wholly before the symbol's first candle, when already known, are not asked for."""
        batch: list[tuple[int, list[Kline]]] = []
        for day in self._rest_day_klines(encode.symbol, interval, start_ms, end_ms):
            batch.append(day)
            if len(batch) == REST_DAYS_PER_ENCODING:
                yield from self._encoded(encode, batch)
                batch = []
        yield from self._encoded(encode, batch)

    def _rest_day_klines(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> Iterator[tuple[int, list[Kline]]]:
        """(day start, its klines) for each day piece of [start_ms, end_ms), from REST's pages."""
        fetch_from = start_ms
        if (symbol, interval) in self._first_open:
            first = self._first_open[(symbol, interval)]
            fetch_from = end_ms if first is None else max(start_ms, first - first % DAY_MS)
        pending: list[Kline] = []
        days = _day_starts(start_ms, end_ms)
        index = 0
        pages = (
            self.rest.iter_klines(symbol, interval, fetch_from, end_ms)
            if fetch_from < end_ms
            else iter(())
        )
        for page in pages:
            pending.extend(page)
            while index + 1 < len(days) and pending and pending[-1].open_time >= days[index + 1]:
                cut = bisect_left(pending, days[index + 1], key=_open_time)
                yield days[index], pending[:cut]
                del pending[:cut]
                index += 1
        for day in days[index:]:
            cut = bisect_left(pending, day + DAY_MS - day % DAY_MS, key=_open_time)
            yield day, pending[:cut]
            del pending[:cut]

    def _encoded(
        self, encode: _Encoder, days: list[tuple[int, list[Kline]]]
    ) -> Iterator[DayKlines]:
        """REST days as ``DayKlines``, their rows encoded in one go and cut per day."""
        if not days:
            return
        rows = encode(kline_frame([kline for _, klines in days for kline in klines]))
        position = 0
        for start_ms, klines in days:
            self._count(REST, 1)
            yield DayKlines(
                start_ms,
                REST,
                rows.slice(position, position + len(klines)),
                [k.open_time for k in klines],
            )
            position += len(klines)

    def _count(self, source: str, days: int) -> None:
        with self._lock:
            self.days[source] += days

    def _warn(self, message: str) -> None:
        if self._log is not None:
            self._log.warning(message)

    def _info(self, message: str) -> None:
        if self._log is not None:
            self._log.info(message)


@dataclass(frozen=True)
class _Encoder:
    """Candle frames of one symbol -> COPY binary rows of the candle columns and ``constants``."""

    symbol: str
    constants: Mapping[str, object]

    def __call__(self, frame: pl.DataFrame) -> BinaryRows:
        return candle_rows(
            frame, (*CANDLE_COLUMNS, *self.constants), {"symbol": self.symbol, **self.constants}
        )


def _open_time(kline: Kline) -> int:
    return kline.open_time


def _day_starts(start_ms: int, end_ms: int) -> list[int]:
    """Start of each day piece of [start_ms, end_ms): start_ms, then every midnight after it."""
    starts = [start_ms]
    midnight = start_ms - start_ms % DAY_MS + DAY_MS
    while midnight < end_ms:
        starts.append(midnight)
        midnight += DAY_MS
    return starts


def _merge_months(steps: list[_Step], symbol: str, interval: str, now_ms: int) -> list[_Step]:
    """Replace the daily files of each whole calendar month that is over with its monthly file."""
    out: list[_Step] = []
    index = 0
    while index < len(steps):
        step = steps[index]
        day = ms_to_datetime(step.start_ms).date()
        if step.file is not None and day.day == 1:
            month = ArchiveFile.month(symbol, interval, day.year, day.month)
            days = (month.end_ms - month.start_ms) // DAY_MS
            block = steps[index : index + days]
            if (
                len(block) == days
                and all(s.file is not None for s in block)
                and month.end_ms <= now_ms
            ):
                out.append(_Step(month.start_ms, month.end_ms, month))
                index += days
                continue
        out.append(step)
        index += 1
    return out


@dataclass(frozen=True)
class DaySource:
    """Which source gave one day's candles, and how many (``IngestStats.sources``)."""

    source: str
    rows: int
    file: str | None = None


def source_metadata(symbol: str, sources: dict[int, DaySource]) -> dict[str, dict[str, Any]]:
    """Per partition key ('2024-01-05|BTCUSDT'): its rows by source and the archive file used."""
    out: dict[str, dict[str, Any]] = {}
    for start_ms, day in sources.items():
        key = str(partition_key(_utc_day(start_ms), symbol))
        metadata = {
            "source": day.source,
            "archive_rows": day.rows if day.source == ARCHIVE else 0,
            "rest_rows": day.rows if day.source == REST else 0,
        }
        if day.file is not None:
            metadata["archive_file"] = day.file
        out[key] = metadata
    return out


def _utc_day(ms: int) -> date:
    return ms_to_datetime(ms - ms % DAY_MS).date()
