"""Rows waiting for the next write: the newest version of each candle, and thinned price samples.

Pushes for the same minute replace each other here, so a write carries one row per symbol and
minute however many pushes arrived. A price sample is kept when it is the first of its symbol
in its ``sampling_interval`` bucket (``floor(event time / interval)``), so ``price_samples``
holds at most one row per symbol and interval.

The buffer is bounded: while the database is unreachable it keeps at most ``capacity`` rows.
Beyond that candle rows are dropped first, oldest minute first (the ``candles_1m`` sensor
refills those minutes from REST once the database is back, and the forming minute comes again
with the next push), and price samples, which nothing can refill, only when no candle row is
left, oldest first. Every drop is counted, and reported with its symbol to ``on_drop``.

A push never replaces the final (closed) version of its minute with a forming one: while a
connection is replaced, the old and the new one both deliver, and not always in order.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from crypto_assets.binance.stream_wire import KlineEvent
from crypto_assets.warehouse.candles import kline_lines, ms_to_pg

CandleKey = tuple[str, int]  # symbol, open time (ms)
_CLOSED, _FORMING = "\tt\tstream", "\tf\tstream"  # is_closed, source
_CLOSED_LINE_END = _CLOSED + "\n"


@dataclass
class Batch:
    """Rows taken for one write: COPY text lines for ``candles_1m`` and ``price_samples``."""

    candles: OrderedDict[CandleKey, str] = field(default_factory=OrderedDict)
    samples: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.candles) + len(self.samples)


class PendingRows:
    """What the stream delivered and the warehouse does not have yet (not thread-safe: one event loop)."""

    def __init__(
        self,
        capacity: int,
        sampling_interval_ms: int,
        on_drop: Callable[[str, str], None] | None = None,
    ) -> None:
        if capacity < 1 or sampling_interval_ms < 1:
            raise ValueError(
                f"capacity and sampling interval must be >= 1, got {capacity}, {sampling_interval_ms}"
            )
        self.capacity = capacity
        self.sampling_interval_ms = sampling_interval_ms
        self._on_drop = on_drop or (
            lambda symbol, what: None
        )  # (symbol, "candle" or "price sample")
        self.dropped_candles = 0
        self.dropped_samples = 0
        self._candles: OrderedDict[CandleKey, str] = OrderedDict()
        self._samples: deque[str] = deque()
        self._sample_bucket: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._candles) + len(self._samples)

    def resume_sampling(self, last_sampled_ms: dict[str, int]) -> None:
        """Continue thinning where the table left off (the newest sample per symbol), so a
        restart never writes a second sample into an interval."""
        for symbol, sampled_ms in last_sampled_ms.items():
            bucket = sampled_ms // self.sampling_interval_ms
            self._sample_bucket[symbol] = max(bucket, self._sample_bucket.get(symbol, bucket))

    def add(self, event: KlineEvent) -> None:
        """Keep the event's candle (replacing an older push of the same minute) and maybe its price."""
        kline = event.kline
        key = (event.symbol, kline.open_time)
        if event.is_closed or not self._candles.get(key, "").endswith(_CLOSED_LINE_END):
            self._candles[key] = kline_lines(
                event.symbol, (kline,), _CLOSED if event.is_closed else _FORMING
            )
        bucket = event.event_ms // self.sampling_interval_ms
        if bucket > self._sample_bucket.get(event.symbol, -1):
            self._sample_bucket[event.symbol] = bucket
            self._samples.append(f"{event.symbol}\t{ms_to_pg(event.event_ms)}\t{kline.close}\n")
        self._enforce_capacity()

    def take(self) -> Batch:
        """Everything pending, for one write; the buffer is empty afterwards."""
        batch = Batch(self._candles, list(self._samples))
        self._candles, self._samples = OrderedDict(), deque()
        return batch

    def restore(self, batch: Batch) -> None:
        """Put back a batch whose write failed, under anything newer that arrived meanwhile."""
        candles = batch.candles
        for key, line in self._candles.items():
            candles[key] = line
        self._candles = candles
        self._samples.extendleft(reversed(batch.samples))
        self._enforce_capacity()

    def _enforce_capacity(self) -> None:
        while len(self._candles) + len(self._samples) > self.capacity:
            if self._candles:
                (symbol, _), _ = self._candles.popitem(last=False)
                self.dropped_candles += 1
                self._on_drop(symbol, "candle")
            else:
                line = self._samples.popleft()
                self.dropped_samples += 1
                self._on_drop(line.partition("\t")[0], "price sample")
