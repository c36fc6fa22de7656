"""Bulk writes and reads of candle tables (``candles_15m``, ``candles_1m``).

Writes are idempotent: the symbol's time window is deleted, then the candles are streamed in
with COPY, inside the caller's transaction, so re-materialising gives the same rows and a failed
run leaves the table as it was. Decimal strings from Binance go into ``numeric`` untouched.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from types import TracebackType

import numpy as np
import polars as pl
from psycopg2.extensions import cursor

from crypto_assets.binance.wire import DAY_MS, Kline
from crypto_assets.warehouse.locks import lock_symbols

CANDLE_COLUMNS = (
    "symbol",
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trade_count",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)

_day_prefix: dict[int, str] = {}
_clock_text: dict[int, str] = {}
_CACHE_LIMIT = 100_000


def ms_to_pg(ms: int) -> str:
    """Epoch ms -> a timestamptz literal, fast: the date and the time of day are cached apart
    (candles repeat the same times of day), so most calls are two dict look-ups."""
    day, rest = divmod(ms, DAY_MS)
    prefix = _day_prefix.get(day)
    if prefix is None:
        prefix = _cache(
            _day_prefix,
            day,
            datetime.fromtimestamp(day * 86400, tz=UTC).strftime("%Y-%m-%d "),
        )
    clock = _clock_text.get(rest)
    if clock is None:
        seconds, millis = divmod(rest, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        clock = _cache(_clock_text, rest, f"{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}+00")
    return prefix + clock


def _cache(cache: dict[int, str], key: int, value: str) -> str:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def kline_lines(symbol: str, klines: Iterable[Kline], suffix: str = "") -> str:
    """COPY text lines for klines (``suffix`` adds extra tab-separated columns)."""
    pg = ms_to_pg
    return "".join(
        [
            f"{symbol}\t{pg(ot)}\t{pg(ct)}\t{o}\t{h}\t{lo}\t{c}\t{v}\t{qv}\t{n}\t{tb}\t{tq}{suffix}\n"
            for ot, o, h, lo, c, v, ct, qv, n, tb, tq in klines
        ]
    )


_PG_TIME = "%Y-%m-%d %H:%M:%S%.3f+00"  # what ms_to_pg writes


def frame_lines(symbol: str, frame: pl.DataFrame, suffix: str = "") -> str:
    """COPY text lines for a frame of klines (``Kline``'s columns, times in ms), like
    ``kline_lines`` but formatted by polars: a month of 1m candles in tens of milliseconds.
    ``suffix`` adds columns, each after a tab (``'\ttrue\trest'``), as in ``kline_lines``."""
    if frame.is_empty():
        return ""
    columns = [
        pl.from_epoch(name, "ms") if name.endswith("_time") else pl.col(name)
        for name in CANDLE_COLUMNS[1:]  # the frame's columns are named like the table's
    ]
    if suffix:  # the suffix's columns as one more column: its text after the first tab
        columns.append(pl.lit(suffix.removeprefix("\t")).alias("suffix"))
    return frame.select(pl.lit(symbol).alias("symbol"), *columns).write_csv(
        separator="\t",
        include_header=False,
        quote_style="never",
        line_terminator="\n",
        datetime_format=_PG_TIME,  # formatted while writing: half the time of a strftime column
    )


def frame_slices_lines(
    symbol: str, frame: pl.DataFrame, bounds: Sequence[int], suffix: str = ""
) -> list[str]:
    """``frame_lines`` of each slice ``frame[bounds[i]:bounds[i + 1]]`` (bounds ascending), from
    one formatting of the rows: a month's days in one call instead of thirty, half the CPU.

    Each slice's text starts at the line of its first row, found by that row's symbol and open
    time (unique and ascending in a kline frame)."""
    lo, hi = bounds[0], bounds[-1]
    text = frame_lines(symbol, frame.slice(lo, hi - lo), suffix)
    opens = frame["open_time"]
    offsets, position = [], 0
    for index, row in enumerate(bounds):
        if row == lo:
            offsets.append(0)
        elif row == hi:
            offsets.append(len(text))
        elif row == bounds[index - 1]:  # an empty slice: the next one starts where it does
            offsets.append(position)
        else:
            found = text.find(f"\n{symbol}\t{ms_to_pg(opens[row])}\t", position)
            if found < 0:
                raise ValueError(f"no line for {symbol} {ms_to_pg(opens[row])} in its frame's text")
            position = found + 1
            offsets.append(position)
    return [text[a:b] for a, b in pairwise(offsets)]


def copy_lines(cur: cursor, table: str, columns: Sequence[str], text: str) -> None:
    """COPY tab-separated ``text`` into ``table``."""
    if text:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text))


class StreamingCopy:
    """One COPY statement fed chunk by chunk while the caller prepares the next chunks.

    A writer thread runs the COPY (psycopg2 releases the GIL while PostgreSQL works), so the
    server ingests one chunk while this process fetches and formats the next: a long load costs
    about what the server needs, not the sum of both sides. Use as a context manager; an error
    on either side is raised by ``__exit__``.
    """

    _DONE = None

    def __init__(self, cur: cursor, table: str, columns: Sequence[str], depth: int = 8) -> None:
        self._sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self._cur = cur
        self._chunks: queue.Queue[str | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._done_read = False
        self._thread = threading.Thread(target=self._run, name=f"copy-{table}", daemon=True)

    def __enter__(self) -> StreamingCopy:
        self._thread.start()
        return self

    def write(self, text: str) -> None:
        if self._error is not None:
            raise self._error
        if text:
            self._chunks.put(text)

    def read(self, size: int = -1) -> str:  # called by psycopg2 in the writer thread
        chunk = self._chunks.get()
        if chunk is self._DONE:
            self._done_read = True
            return ""
        return chunk

    def _run(self) -> None:
        try:
            # psycopg2 only read()s a COPY FROM source; the stubs ask for readline() too.
            self._cur.copy_expert(self._sql, self)  # type: ignore[arg-type]
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
            self._error = err
            # Unblock a waiting writer, unless the COPY failed at its very end (a lost connection
            # shows there): then the end was read already and no more chunks will come.
            while not self._done_read and self._chunks.get() is not self._DONE:
                pass

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._chunks.put(self._DONE)
        self._thread.join()
        if self._error is not None and exc is None:
            raise self._error


def delete_window(cur: cursor, table: str, symbol: str, start_ms: int, end_ms: int) -> int:
    """Delete the symbol's candles opening in [start_ms, end_ms); returns rows deleted.

    First takes the symbol's write lock (``locks.lock_symbols``): two runs replacing
    overlapping windows then take turns instead of the second failing on the first's rows.
    """
    lock_symbols(cur, table, [symbol])
    cur.execute(
        f"DELETE FROM {table} WHERE symbol = %s AND open_time >= %s::timestamptz AND open_time < %s::timestamptz",
        (symbol, ms_to_pg(start_ms), ms_to_pg(end_ms)),
    )
    return int(cur.rowcount)


def find_gaps(
    open_times: Sequence[int], start_ms: int, end_ms: int, step_ms: int
) -> list[tuple[int, int]]:
    """Runs of expected candle open times in [start_ms, end_ms) that are absent.

    The grid is the interval grid; candles off the grid (an exchange's cut-short candles) count
    as present for the slot they fall in.
    """
    times = np.asarray(open_times, dtype=np.int64)  # a year of 1m: 525,600, vectorised
    times = times[(times >= start_ms) & (times < end_ms)]
    total = (end_ms - start_ms + step_ms - 1) // step_ms
    slots = np.sort((times - start_ms) // step_ms)
    slots = np.append(slots[np.diff(slots, prepend=-1) > 0], total)  # each slot once, then the end
    expected = np.concatenate(([0], slots[:-1] + 1))  # the slot each one should have been
    missing = slots > expected
    return [
        (start_ms + int(first) * step_ms, int(count))
        for first, count in zip(expected[missing], slots[missing] - expected[missing], strict=True)
    ]
