"""The collector: every configured symbol's kline_1m stream into the warehouse, until stopped.

``Collector.validate()`` first checks the symbols against REST exchangeInfo (an unknown or
non-trading symbol fails the start, naming it). ``Collector.run(stop)`` then

* splits the symbols over as few connections as Binance's 1024 streams per connection allow
  (``streams_per_connection`` lowers it), all sharing one connection-attempt budget;
* buffers every push (``PendingRows``) and writes what is pending every ``flush_interval_s``
  (one transaction: candles, samples, heartbeats once a second) on a worker thread, so the
  event loop keeps reading while PostgreSQL works;
* survives a database outage: a failed write is put back and retried with backoff, the buffer
  bounded at ``buffer_rows`` (what goes first when it is full: see ``buffer.py``; drops are
  logged);
* on ``stop`` (SIGTERM, Ctrl-C: see ``serve``), closes the connections, then writes what it
  holds, giving up after ``stop_flush_timeout_s`` if the database stays away (and saying how
  many rows it could not write).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass

from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.stream import MAX_STREAMS_PER_CONNECTION, KlineStream
from crypto_assets.binance.stream_backoff import Backoff, ConnectionBudget, wait_or_stop
from crypto_assets.stream import heartbeat
from crypto_assets.stream.buffer import PendingRows
from crypto_assets.stream.writer import WarehouseWriter, WriteFailed

_log = logging.getLogger(__name__)
_DROP_LOG_EVERY_S = 10.0


@dataclass(frozen=True)
class CollectorConfig:
    """What the collector needs; see ``commands/stream.py`` for where each value comes from."""

    symbols: tuple[str, ...]
    ws_url: str
    api_url: str
    database_url: str
    sampling_interval_s: float = 2.0
    flush_interval_s: float = 0.5
    heartbeat_interval_s: float = 1.0
    buffer_rows: int = 100_000
    streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    idle_timeout_s: float = 30.0
    max_connection_age_s: float = 23.5 * 3600
    stop_flush_timeout_s: float = 10.0

    def connection_plan(self) -> list[tuple[str, list[str]]]:
        """(connection id, its symbols) for every connection, in config order."""
        if not 1 <= self.streams_per_connection <= MAX_STREAMS_PER_CONNECTION:
            raise ValueError(f"streams_per_connection must be 1..{MAX_STREAMS_PER_CONNECTION}, got {self.streams_per_connection}")
        size = self.streams_per_connection
        return [(f"kline_1m-{i // size}", list(self.symbols[i : i + size])) for i in range(0, len(self.symbols), size)]


class Collector:
    """The stream connections, the pending rows and the writer of one ``crypto stream`` process."""

    def __init__(self, config: CollectorConfig):
        if not config.symbols:
            raise ValueError("the collector needs at least one symbol")
        self.config = config
        self.buffer = PendingRows(config.buffer_rows, max(1, round(config.sampling_interval_s * 1000)))
        budget = ConnectionBudget()
        self.streams = [
            KlineStream(connection_id, config.ws_url, symbols, self.buffer.add, budget=budget,
                        idle_timeout_s=config.idle_timeout_s, max_age_s=config.max_connection_age_s)
            for connection_id, symbols in config.connection_plan()
        ]
        self.writer = WarehouseWriter(config.database_url)
        self._prepared = False
        self._last_heartbeat = float("-inf")
        self._dropped_logged = (0, 0)
        self._last_drop_log = float("-inf")

    def validate(self) -> None:
        """Every symbol is listed and TRADING (raises ``UnknownSymbolError`` naming the bad ones)."""
        with BinanceRestClient(self.config.api_url) as client:
            client.validate_symbols(list(self.config.symbols))

    async def run(self, stop: asyncio.Event) -> None:
        """Stream and write until ``stop`` is set, then write what is held and return."""
        streams_stop = asyncio.Event()
        tasks = [asyncio.ensure_future(stream.run(streams_stop)) for stream in self.streams]
        writing = asyncio.ensure_future(self._write_until(stop))
        stopping = asyncio.ensure_future(stop.wait())
        try:  # until stopped, or until a connection or the writer fails for good
            done, _ = await asyncio.wait([*tasks, writing, stopping], return_when=asyncio.FIRST_COMPLETED)
            failed = [task for task in done if task is not stopping and task.exception() is not None]
            if failed:
                raise failed[0].exception()
        finally:
            stop.set()
            streams_stop.set()
            await asyncio.gather(*tasks, writing, stopping, return_exceptions=True)
            await self._final_write()
            self.writer.close()

    # -- writing -----------------------------------------------------------------------------

    async def _write_until(self, stop: asyncio.Event) -> None:
        backoff = Backoff(base_s=self.config.flush_interval_s, cap_s=5.0)
        while not stop.is_set():
            if await self._write_once():
                backoff.reset()
                delay = self.config.flush_interval_s
            else:
                delay = backoff.next_delay()
            self._log_drops()
            await wait_or_stop(stop, delay)

    async def _write_once(self, force_heartbeat: bool = False) -> bool:
        """Write what is pending (and a heartbeat when due); False when the database is away."""
        now = time.monotonic()
        beat = force_heartbeat or now - self._last_heartbeat >= self.config.heartbeat_interval_s
        try:
            if not self._prepared:
                await asyncio.to_thread(self._prepare)
            batch = self.buffer.take()
            if not batch and not beat:
                return True
            try:
                await asyncio.to_thread(self.writer.write, batch, [s.stats for s in self.streams] if beat else ())
            except WriteFailed:
                self.buffer.restore(batch)
                raise
        except WriteFailed as err:
            _log.warning("database write failed (%s); holding %d rows and retrying", err, len(self.buffer))
            return False
        if beat:
            self._last_heartbeat = now
        return True

    def _prepare(self) -> None:
        """Once per process: forget heartbeats of connections that no longer exist, and resume
        sample thinning where ``price_samples`` ends."""
        ids = [stream.stats.connection_id for stream in self.streams]
        self.writer.query(heartbeat.FORGET_OTHERS, (ids,))
        last = self.writer.query(heartbeat.LAST_SAMPLES, (list(self.config.symbols),))
        self.buffer.resume_sampling(dict(last))
        self._prepared = True

    async def _final_write(self) -> None:
        deadline = time.monotonic() + self.config.stop_flush_timeout_s
        while not await self._write_once(force_heartbeat=True) and time.monotonic() < deadline:
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        self._log_drops(force=True)
        if len(self.buffer):
            _log.error("stopped with %d rows not written: the database stayed unreachable for %.0f s",
                       len(self.buffer), self.config.stop_flush_timeout_s)

    def _log_drops(self, force: bool = False) -> None:
        dropped = (self.buffer.dropped_candles, self.buffer.dropped_samples)
        now = time.monotonic()
        if dropped != self._dropped_logged and (force or now - self._last_drop_log >= _DROP_LOG_EVERY_S):
            _log.warning("buffer full (%d rows): dropped %d candle rows (the candles_1m sensor refills them from REST)"
                         " and %d price samples so far", self.buffer.capacity, *dropped)
            self._dropped_logged, self._last_drop_log = dropped, now


def serve(config: CollectorConfig) -> None:
    """Validate, then collect until SIGTERM or SIGINT; returns after the final write."""
    collector = Collector(config)
    collector.validate()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        plan = ", ".join(f"{s.stats.connection_id} ({s.stats.streams} streams)" for s in collector.streams)
        _log.info("streaming %d symbols from %s over %s", len(config.symbols), config.ws_url, plan)
        await collector.run(stop)
        _log.info("stopped cleanly")

    asyncio.run(main())
