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
from types import TracebackType
from typing import get_type_hints

import numpy as np
import polars as pl
from psycopg2.extensions import cursor

from crypto_assets.binance.wire import DAY_MS, Kline
from crypto_assets.warehouse.binary_copy import HEADER, TRAILER
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


KLINE_SCHEMA = {
    name: pl.Int64 if kind is int else pl.String for name, kind in get_type_hints(Kline).items()
}


def kline_frame(klines: Sequence[Kline]) -> pl.DataFrame:
    """Klines as a frame with ``Kline``'s columns (times in ms, decimals the strings Binance sent),
    the shape an archive file is read into (``archive.read_frame``)."""
    return pl.DataFrame(klines, schema=KLINE_SCHEMA, orient="row")


def copy_lines(cur: cursor, table: str, columns: Sequence[str], text: str) -> None:
    """COPY tab-separated ``text`` into ``table``."""
    if text:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO(text))


class StreamingCopy:
    """One binary COPY statement fed chunk by chunk (rows of ``binary_copy``) while the caller
    prepares the next chunks.

    A writer thread runs the COPY (psycopg2 releases the GIL while PostgreSQL works), so the
    server ingests one chunk while this process fetches and formats the next: a long load costs
    about what the server needs, not the sum of both sides. Use as a context manager; an error
    on either side is raised by ``__exit__``.
    """

    _DONE = None

    def __init__(self, cur: cursor, table: str, columns: Sequence[str], depth: int = 8) -> None:
        self._sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)"
        self._cur = cur
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._done_read = False
        self._thread = threading.Thread(target=self._run, name=f"copy-{table}", daemon=True)

    def __enter__(self) -> StreamingCopy:
        self._chunks.put(HEADER)
        self._thread.start()
        return self

    def write(self, rows: bytes) -> None:
        if self._error is not None:
            raise self._error
        if rows:
            self._chunks.put(rows)

    def read(self, size: int = -1) -> bytes:  # called by psycopg2 in the writer thread
        chunk = self._chunks.get()
        if chunk is self._DONE:
            self._done_read = True
            return b""
        return chunk

    def _run(self) -> None:
        try:
            self._cur.copy_expert(self._sql, self)
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
        if exc is None and self._error is None:
            self._chunks.put(TRAILER)
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
