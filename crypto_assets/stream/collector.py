"""The collector: every configured symbol's kline_1m stream into the warehouse, until stopped.

``Collector.validate()`` first reads the symbols' status from REST exchangeInfo: an unknown
symbol fails the start, naming it; one that is not ``TRADING`` is named in a warning and waits,
the rest stream. ``Collector.run(stop)`` then

* splits the configured symbols over as few connections as Binance's 1024 streams per
  connection allow (``streams_per_connection`` lowers it), in config order, all sharing one
  connection-attempt budget; each connection carries its TRADING symbols (see
  ``binance/stream.py`` for how it keeps the exchange's limits);
* re-reads exchangeInfo every ``symbols_check_interval_s`` (weight 20 per read, counted by the
  REST client's limiter): a symbol that leaves TRADING is unsubscribed, one that returns is
  subscribed again, without a restart; both are logged and reported in the heartbeat table
  (``not_streaming``);
* buffers every push (``PendingRows``) and writes as soon as a batch is ready: ``flush_interval_s``
  after the oldest pending row arrived (a burst of pushes, as every symbol's at the same
  instant, goes in one write), or at once when the previous write took longer; one
  transaction (candles, samples, and heartbeats once a ``heartbeat_interval_s``, alone when no
  row comes) on a worker thread, so the event loop keeps reading while PostgreSQL works. A row
  the database refuses is left out alone (``writer.py``); a write that fails otherwise is put
  back and retried with backoff, the buffer bounded at ``buffer_rows`` (what goes first when
  it is full: see ``buffer.py``).
  Everything dropped (malformed messages, refused rows, buffer overflow) is counted by reason
  in its connection's heartbeat row (``dropped``) and logged at most once a minute per reason;
* on ``stop`` (SIGTERM, Ctrl-C: see ``serve``), closes the connections, then writes what it
  holds, giving up after ``stop_flush_timeout_s`` if the database stays away (and saying how
  many rows it could not write).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from asyncio import FIRST_COMPLETED
from dataclasses import dataclass

from crypto_assets.binance.errors import BinanceError, UnknownSymbolError
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.stream import MAX_STREAMS_PER_CONNECTION, KlineStream
from crypto_assets.binance.stream_backoff import Backoff, ConnectionBudget, wait_or_stop
from crypto_assets.binance.stream_wire import KlineEvent
from crypto_assets.binance.throttled_log import ThrottledLog
from crypto_assets.stream import heartbeat
from crypto_assets.stream.buffer import PendingRows
from crypto_assets.stream.writer import RefusedRow, WarehouseWriter, WriteFailed

_log = logging.getLogger(__name__)
TRADING = "TRADING"
NOT_LISTED = "not listed"  # a configured symbol exchangeInfo stopped listing while we ran
_RETRY_AFTER_S, _RETRY_CAP_S = 0.25, 5.0  # backoff between failed writes: jittered, doubling


@dataclass(frozen=True)
class CollectorConfig:
    """What the collector needs; see ``commands/stream.py`` for where each value comes from."""

    symbols: tuple[str, ...]
    ws_url: str
    api_url: str
    database_url: str
    sampling_interval_s: float = 2.0
    flush_interval_s: float = 0.05
    heartbeat_interval_s: float = 1.0
    buffer_rows: int = 100_000
    streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    idle_timeout_s: float = 30.0
    max_connection_age_s: float = 23.5 * 3600
    stop_flush_timeout_s: float = 10.0
    symbols_check_interval_s: float = 300.0

    def connection_plan(self) -> list[tuple[str, list[str]]]:
        """(connection id, its symbols) for every connection, in config order."""
        if not 1 <= self.streams_per_connection <= MAX_STREAMS_PER_CONNECTION:
            raise ValueError(
                f"streams_per_connection must be 1..{MAX_STREAMS_PER_CONNECTION}, got {self.streams_per_connection}"
            )
        size = self.streams_per_connection
        return [
            (f"kline_1m-{i // size}", list(self.symbols[i : i + size]))
            for i in range(0, len(self.symbols), size)
        ]


class Collector:
    """The stream connections, the pending rows and the writer of one ``crypto stream`` process."""

    def __init__(self, config: CollectorConfig) -> None:
        if not config.symbols:
            raise ValueError("the collector needs at least one symbol")
        self.config = config
        self._log = ThrottledLog(_log)
        self.buffer = PendingRows(
            config.buffer_rows,
            max(1, round(config.sampling_interval_s * 1000)),
            self._count_overflow,
        )
        self._pending_since: float | None = None  # when the oldest row not yet written arrived
        self._rows_arrived = asyncio.Event()
        budget = ConnectionBudget()
        self._plan = [
            (
                KlineStream(
                    connection_id,
                    config.ws_url,
                    self._receive,
                    budget=budget,
                    idle_timeout_s=config.idle_timeout_s,
                    max_age_s=config.max_connection_age_s,
                    log=self._log,
                ),
                symbols,
            )
            for connection_id, symbols in config.connection_plan()
        ]
        self.streams = [stream for stream, _ in self._plan]
        self._stream_of = {symbol: stream for stream, symbols in self._plan for symbol in symbols}
        self.statuses: dict[str, str] = {}
        self._rest = BinanceRestClient(config.api_url)
        self.writer = WarehouseWriter(config.database_url)
        self._prepared = False
        self._last_heartbeat = float("-inf")

    # -- which symbols stream ----------------------------------------------------------------

    def validate(self) -> None:
        """Read the symbols' status: ``UnknownSymbolError`` names those exchangeInfo does not list;
        those not TRADING are named in a warning and wait, the others are streamed."""
        listed = self._rest.listed_symbols(list(self.config.symbols))
        unknown = [symbol for symbol in self.config.symbols if symbol not in listed]
        if unknown:
            raise UnknownSymbolError(unknown, self._rest.base_url)
        self.apply_statuses({symbol: listed[symbol].status for symbol in self.config.symbols})

    def apply_statuses(self, statuses: dict[str, str]) -> None:
        """Stream the TRADING symbols, stop the others; log what changed."""
        before, self.statuses = self.statuses, dict(statuses)
        waiting = {
            s: st
            for s, st in statuses.items()
            if st != TRADING and before.get(s, TRADING) == TRADING
        }
        back = [
            s for s, st in statuses.items() if st == TRADING and before.get(s, TRADING) != TRADING
        ]
        if waiting and not before:
            _log.warning(
                "not streaming %s: exchangeInfo says they are not TRADING; each is subscribed when it trades again"
                " (the other %d symbols stream)",
                _named(waiting),
                sum(st == TRADING for st in statuses.values()),
            )
        elif waiting:
            _log.warning("%s left TRADING: unsubscribed until it trades again", _named(waiting))
        if back:
            _log.info("%s TRADING again: subscribing", ", ".join(back))
        for stream, symbols in self._plan:
            stream.set_symbols(
                [s for s in symbols if statuses.get(s) == TRADING],
                {s: statuses.get(s, NOT_LISTED) for s in symbols if statuses.get(s) != TRADING},
            )

    async def _check_symbols(self, stop: asyncio.Event) -> None:
        """Re-read exchangeInfo on a schedule and follow the symbols' status."""
        symbols = list(self.config.symbols)
        while not await wait_or_stop(stop, self.config.symbols_check_interval_s):
            try:
                listed = await asyncio.to_thread(self._rest.listed_symbols, symbols)
            except BinanceError as err:
                _log.warning(
                    "could not re-read exchangeInfo (%s); the symbols stay as they are until the next check",
                    err,
                )
                continue
            self.apply_statuses(
                {s: listed[s].status if s in listed else NOT_LISTED for s in symbols}
            )

    # -- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Stream and write until ``stop`` is set, then write what is held and return."""
        streams_stop = asyncio.Event()
        tasks = [asyncio.ensure_future(stream.run(streams_stop)) for stream in self.streams]
        tasks.append(asyncio.ensure_future(self._check_symbols(streams_stop)))
        writing = asyncio.ensure_future(self._write_until(stop))
        stopping = asyncio.ensure_future(stop.wait())
        try:  # until stopped, or until a connection or the writer fails for good
            done, _ = await asyncio.wait(
                [*tasks, writing, stopping], return_when=asyncio.FIRST_COMPLETED
            )
            errors = [task.exception() for task in done if task is not stopping]
            failure = next((error for error in errors if error is not None), None)
            if failure is not None:
                raise failure
        finally:
            stop.set()
            streams_stop.set()
            await asyncio.gather(*tasks, writing, stopping, return_exceptions=True)
            await self._final_write()
            self.writer.close()
            self._rest.close()

    # -- writing -----------------------------------------------------------------------------

    def _receive(self, event: KlineEvent) -> None:
        self.buffer.add(event)
        if self._pending_since is None:
            self._pending_since = time.monotonic()
            self._rows_arrived.set()

    async def _write_until(self, stop: asyncio.Event) -> None:
        """Write whenever a batch is ready (or a heartbeat is due), with backoff while writes fail."""
        backoff = Backoff(base_s=_RETRY_AFTER_S, cap_s=_RETRY_CAP_S)
        while not await self._until_due(stop):
            if await self._write_once():
                backoff.reset()
            elif await wait_or_stop(stop, backoff.next_delay()):
                return

    async def _until_due(self, stop: asyncio.Event) -> bool:
        """Wait until the pending rows have gathered for ``flush_interval_s`` or, with none
        pending, until a row arrives or the next heartbeat is due; True when stopping instead."""
        while not stop.is_set():
            if self._pending_since is not None:
                wait = self._pending_since + self.config.flush_interval_s - time.monotonic()
                return wait > 0 and await wait_or_stop(stop, wait)
            self._rows_arrived.clear()
            wait = self._last_heartbeat + self.config.heartbeat_interval_s - time.monotonic()
            if wait <= 0:
                return False
            arrived = asyncio.ensure_future(self._rows_arrived.wait())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([arrived, stopping], timeout=wait, return_when=FIRST_COMPLETED)
            arrived.cancel()
            stopping.cancel()
        return True

    def _pending_again(self, since: float) -> None:
        """A failed write's rows are pending again, beside any that arrived during the write: the
        oldest arrival is the earlier of the two."""
        self._pending_since = min(since, self._pending_since or since)

    async def _write_once(self, force_heartbeat: bool = False) -> bool:
        """Write what is pending (and a heartbeat when due); False when it could not be written."""
        now = time.monotonic()
        beat = force_heartbeat or now - self._last_heartbeat >= self.config.heartbeat_interval_s
        try:
            if not self._prepared:
                await asyncio.to_thread(self._prepare)
            pending_since, self._pending_since = self._pending_since, None
            batch = self.buffer.take()
            if not batch and not beat:
                return True
            try:
                refused = await asyncio.to_thread(
                    self.writer.write, batch, [s.stats for s in self.streams] if beat else ()
                )
            except WriteFailed:
                self.buffer.restore(batch)
                if pending_since is not None:
                    self._pending_again(pending_since)
                raise
        except WriteFailed as err:
            self._log.warning(
                "write failed",
                "database write failed (%s); holding %d rows and retrying",
                err,
                len(self.buffer),
            )
            return False
        for row in refused:
            self._count_refused(row)
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
        # A retry with a pause between writes, not a wait on a flag another task sets.
        while not await self._write_once(force_heartbeat=True) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        if self.buffer.dropped_candles or self.buffer.dropped_samples:
            _log.warning(
                "the buffer overflowed while running: %d candle rows (the candles_1m sensor refills them from"
                " REST) and %d price samples were dropped",
                self.buffer.dropped_candles,
                self.buffer.dropped_samples,
            )
        if len(self.buffer):
            _log.error(
                "stopped with %d rows not written: the database stayed unreachable for %.0f s",
                len(self.buffer),
                self.config.stop_flush_timeout_s,
            )

    # -- what was dropped --------------------------------------------------------------------

    def _count_overflow(self, symbol: str, what: str) -> None:
        reason = f"buffer full: {what}"
        self._stream_of.get(symbol, self.streams[0]).stats.dropped[reason] += 1
        self._log.warning(
            reason,
            "buffer full (%d rows): dropped the oldest %s (%s)%s",
            self.buffer.capacity,
            what,
            symbol,
            "; the candles_1m sensor refills the minute from REST" if what == "candle" else "",
        )

    def _count_refused(self, row: RefusedRow) -> None:
        reason = f"refused by the database: {row.reason}"
        self._stream_of.get(row.symbol, self.streams[0]).stats.dropped[reason] += 1
        self._log.error(
            reason,
            "the database refused a %s row, left out (the rest was written): %s",
            row.symbol,
            row.message,
        )


def _named(statuses: dict[str, str]) -> str:
    return ", ".join(f"{symbol} ({status})" for symbol, status in statuses.items())


def serve(config: CollectorConfig) -> None:
    """Validate, then collect until SIGTERM or SIGINT; returns after the final write."""
    collector = Collector(config)
    collector.validate()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        plan = ", ".join(
            f"{s.stats.connection_id} ({len(s.symbols)} streams)" for s in collector.streams
        )
        trading = sum(status == TRADING for status in collector.statuses.values())
        _log.info(
            "streaming %d of %d symbols from %s over %s",
            trading,
            len(config.symbols),
            config.ws_url,
            plan,
        )
        await collector.run(stop)
        _log.info("stopped cleanly")

    asyncio.run(main())
