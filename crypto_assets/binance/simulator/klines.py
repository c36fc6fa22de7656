"""Kline queries with Binance's semantics, answered from cached, pre-encoded blocks.

Which candles exist: every minute from the symbol's listing to the present (the last one may
still be forming), less the minutes inside an outage window; a coarser candle exists when any
of its minutes does. A query then follows ``GET /api/v3/klines``: oldest first; with
``startTime`` the oldest candles opening at or after it; with ``endTime`` none opening after
it; with neither (or only ``endTime``) the most recent ones; at most ``limit``.

Candles live in blocks: one UTC day of candles for intervals up to 12h, one candle for 1d and
longer (built from day summaries). A block that is wholly in the past and touches no outage
never changes, so it is kept, already encoded as JSON, in a memory-bounded LRU; a page is then
a couple of byte slices. The block holding the present is rebuilt on every request.

Stream pushes read one minute of every streamed symbol every 2 s: each symbol's current hour of
1m candles is kept apart (``_hours``, 5.6 KB a symbol), so 2,000 streamed symbols cost one day
computation each per hour instead of one per push (the day cache holds 256 days).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crypto_assets.binance.simulator import market, recordings
from crypto_assets.binance.simulator.candles import (
    CLOSE,
    COLUMNS,
    OPEN_TIME,
    aggregate,
    bucket_end,
    bucket_start,
)
from crypto_assets.binance.simulator.encode import encode_rows
from crypto_assets.binance.simulator.lru import LRU
from crypto_assets.binance.simulator.symbols import SymbolSpec
from crypto_assets.binance.wire import DAY_MS, INTERVAL_MS, MINUTE_MS

Outages = Sequence[tuple[int, int]]
_HOUR_MS = 60 * MINUTE_MS
_NO_ROWS = np.empty((0, COLUMNS), dtype=np.int64)


@dataclass(frozen=True)
class Block:
    """Candles of one block: the matrix and its JSON rows (``data[offsets[i]:offsets[j]]``)."""

    rows: np.ndarray
    data: bytes
    offsets: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray) -> Block:
        data, offsets = encode_rows(rows)
        return cls(rows, data, offsets)

    @property
    def size(self) -> int:
        return self.rows.nbytes + len(self.data) + self.offsets.nbytes


def _touches(outages: Outages, start: int, end: int) -> bool:
    return any(lo < end and hi > start for lo, hi in outages)


class KlineStore:
    """All candles of a symbol universe, for any supported interval, at any simulated instant."""

    def __init__(self, *, recordings_enabled: bool = False, cache_bytes: int = 128 << 20) -> None:
        self._recordings = recordings_enabled
        self._minutes: LRU[np.ndarray] = LRU(256)  # (symbol, day) -> 1440 raw 1m candles
        self._hours: dict[
            str, tuple[int, np.ndarray]
        ] = {}  # symbol -> (hour, its 60 raw 1m candles), for pushes
        self._summaries: LRU[np.ndarray] = LRU(65_536)  # (symbol, day) -> the day as one candle
        self._blocks: LRU[Block] = LRU(cache_bytes, lambda block: block.size)

    # -- queries -----------------------------------------------------------------------------

    def klines(
        self,
        spec: SymbolSpec,
        interval: str,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = 500,
        now: int,
        outages: Outages = (),
    ) -> bytes:
        """The ``GET /api/v3/klines`` body for these parameters, as Binance's JSON bytes."""
        runs = self._select(spec, interval, start, end, limit, now, outages)
        if not runs:
            return b"[]"
        body = b"".join(
            [b"[", *(block.data[block.offsets[i] : block.offsets[j]] for block, i, j in runs)]
        )
        return body[:-1] + b"]"  # the last row's trailing comma

    def candles(
        self,
        spec: SymbolSpec,
        interval: str,
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = 500,
        now: int,
        outages: Outages = (),
    ) -> np.ndarray:
        """The same candles as ``klines`` as a candle matrix (see ``candles.py``), e.g. for a stream."""
        runs = self._select(spec, interval, start, end, limit, now, outages)
        return np.concatenate([block.rows[i:j] for block, i, j in runs]) if runs else _NO_ROWS

    def minute(
        self, spec: SymbolSpec, open_ms: int, *, now: int, outages: Outages = ()
    ) -> np.ndarray | list[int] | None:
        """The 1m candle opening at ``open_ms`` as it stands at ``now``, for a stream push.

        The same candle REST serves (forming while ``now`` is inside its minute, final after),
        found without building the day's block; None when no such candle exists at ``now``
        (before the listing, inside an outage, not opened yet).
        """
        if (
            open_ms > now
            or open_ms < spec.listed_ms
            or any(lo <= open_ms < hi for lo, hi in outages)
        ):
            return None
        hour, offset = divmod(open_ms, _HOUR_MS)
        cached = self._hours.get(spec.symbol)
        if cached is None or cached[0] != hour:
            day, first = divmod(hour * _HOUR_MS, DAY_MS)
            start = first // MINUTE_MS
            cached = self._hours[spec.symbol] = (
                hour,
                self._day_minutes(spec, day)[start : start + 60].copy(),
            )  # not a view: the day may go
        row = cached[1][offset // MINUTE_MS]
        elapsed = now - open_ms
        return market.forming_minute(spec, row, elapsed) if elapsed < MINUTE_MS else row

    def last_price(self, spec: SymbolSpec, *, now: int, outages: Outages = ()) -> int | None:
        """Last traded price at ``now`` in 1e-8 units (close of the newest 1m candle), None before listing."""
        rows = self.candles(spec, "1m", limit=1, now=now, outages=outages)
        return int(rows[-1, CLOSE]) if len(rows) else None

    # -- block selection ---------------------------------------------------------------------

    def _select(
        self,
        spec: SymbolSpec,
        interval: str,
        start: int | None,
        end: int | None,
        limit: int,
        now: int,
        outages: Outages,
    ) -> list[tuple[Block, int, int]]:
        """(block, first row, end row) runs holding the answer, oldest first."""
        first = bucket_start(spec.listed_ms, interval)
        last = bucket_start(now, interval)  # the candle forming now
        if start is not None:
            first = max(first, start)
        if end is not None:
            last = min(last, end)
        if first > last:
            return []
        runs: list[tuple[Block, int, int]] = []
        remaining = limit
        if start is not None:
            chunk = self._chunk_start(first, interval)
            while chunk <= last and remaining:
                block = self._block(spec, interval, chunk, now, outages)
                times = block.rows[:, OPEN_TIME]
                i = int(np.searchsorted(times, first, "left"))
                j = min(int(np.searchsorted(times, last, "right")), i + remaining)
                if j > i:
                    runs.append((block, i, j))
                    remaining -= j - i
                chunk = self._chunk_end(chunk, interval)
        else:
            chunk = self._chunk_start(last, interval)
            while self._chunk_end(chunk, interval) > first and remaining:
                block = self._block(spec, interval, chunk, now, outages)
                times = block.rows[:, OPEN_TIME]
                j = int(np.searchsorted(times, last, "right"))
                i = max(int(np.searchsorted(times, first, "left")), j - remaining)
                if j > i:
                    runs.append((block, i, j))
                    remaining -= j - i
                chunk = self._chunk_start(chunk - 1, interval)
            runs.reverse()
        return runs

    @staticmethod
    def _sub_day(interval: str) -> bool:
        length = INTERVAL_MS[interval]
        return length is not None and length < DAY_MS

    def _chunk_start(self, instant: int, interval: str) -> int:
        return (
            instant - instant % DAY_MS
            if self._sub_day(interval)
            else bucket_start(instant, interval)
        )

    def _chunk_end(self, chunk: int, interval: str) -> int:
        return chunk + DAY_MS if self._sub_day(interval) else bucket_end(chunk, interval)

    # -- blocks ------------------------------------------------------------------------------

    def _block(
        self, spec: SymbolSpec, interval: str, chunk: int, now: int, outages: Outages
    ) -> Block:
        chunk_end = self._chunk_end(chunk, interval)
        stable = chunk_end <= now and not _touches(outages, chunk, chunk_end)
        key = (spec.symbol, interval, chunk)
        if stable and (cached := self._blocks.get(key)) is not None:
            return cached
        if self._sub_day(interval):
            rows = self._present_minutes(spec, chunk // DAY_MS, now, outages)
            if interval != "1m":
                rows = aggregate(rows, interval)
        else:
            days = range(chunk // DAY_MS, min(chunk_end // DAY_MS, now // DAY_MS + 1))
            summaries = [self._day_summary(spec, day, now, outages) for day in days]
            rows = aggregate(np.concatenate(summaries) if summaries else _NO_ROWS, interval)
        if self._recordings and interval != "1m":
            rows = recordings.overlay(rows, recordings.recorded(spec.symbol, interval))
        block = Block.of(rows)
        if stable:
            self._blocks.put(key, block)
        return block

    def _day_summary(self, spec: SymbolSpec, day: int, now: int, outages: Outages) -> np.ndarray:
        """The day as one 1d candle (zero rows when no minute of it exists)."""
        start, end = day * DAY_MS, (day + 1) * DAY_MS
        stable = end <= now and not _touches(outages, start, end)
        if stable and (cached := self._summaries.get((spec.symbol, day))) is not None:
            return cached
        rows = aggregate(self._present_minutes(spec, day, now, outages), "1d")
        if stable:
            self._summaries.put((spec.symbol, day), rows)
        return rows

    def _present_minutes(
        self, spec: SymbolSpec, day: int, now: int, outages: Outages
    ) -> np.ndarray:
        """The day's 1m candles that exist at ``now``: listed, not in an outage, not in the future."""
        rows = self._day_minutes(spec, day)
        start = day * DAY_MS
        if start <= now < start + DAY_MS:
            forming = (now - start) // MINUTE_MS
            rows = rows[: forming + 1].copy()
            rows[forming] = market.forming_minute(spec, rows[forming], now % MINUTE_MS)
        elif now < start:
            rows = rows[:0]
        times = rows[:, OPEN_TIME]
        keep = times >= spec.listed_ms
        for lo, hi in outages:
            keep &= (times < lo) | (times >= hi)
        return rows if keep.all() else rows[keep]

    def _day_minutes(self, spec: SymbolSpec, day: int) -> np.ndarray:
        """All 1440 minutes of a day, recordings applied (cached; never modified in place)."""
        key = (spec.symbol, day)
        rows = self._minutes.get(key)
        if rows is None:
            rows = market.day_minutes(spec, day)
            if self._recordings:
                rows = recordings.overlay(rows, recordings.recorded(spec.symbol, "1m"))
            rows.flags.writeable = False
            self._minutes.put(key, rows)
        return rows
