"""One Binance combined-stream connection for a set of symbols' ``kline_1m``, kept open for good.

``KlineStream.run(stop)`` connects, hands every kline event to ``on_event`` and keeps the feed
alive until ``stop`` is set:

* lost connections (dropped, closed, or silent for ``idle_timeout_s``: a stall) are reopened
  after a jittered backoff, each attempt first taking one from the process's
  ``ConnectionBudget`` (300 per 5 minutes);
* before the exchange's 24 h limit (``max_age_s``) and at once on a ``serverShutdown`` event,
  a new connection is opened *before* the old one is closed, and the old one is read until
  then, so a planned reconnect loses no push;
* the server's pings are answered by websockets (pongs echo the payload); the client sends
  nothing else (streams are chosen in the URL), far under 5 messages a second;
* malformed messages are logged, counted and skipped; a refusal that retrying cannot fix
  (HTTP 4xx other than 408/418/429) raises ``StreamRefusedError`` with the server's words.

Nothing is replayed after a reconnect: the missed minutes are the ``candles_1m`` asset's job.
``stats`` is what the heartbeat reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from crypto_assets.binance.errors import BinanceError
from crypto_assets.binance.stream_backoff import Backoff, ConnectionBudget, wait_or_stop
from crypto_assets.binance.stream_wire import KlineEvent, MalformedFrame, ServerShutdown, combined_stream_url, parse_message, stream_name

_log = logging.getLogger(__name__)
MAX_STREAMS_PER_CONNECTION = 1024  # Binance's limit
_WATCH_EVERY_S = 0.1
_RETRYABLE_4XX = {408, 418, 429}


class StreamRefusedError(BinanceError):
    """The stream server refuses the connection in a way retrying will not fix."""

    def __init__(self, url: str, status: int, body: str):
        self.url, self.status = url, status
        super().__init__(f"the stream server refused {url} with HTTP {status}: {body.strip()[:300]}")


@dataclass
class ConnectionStats:
    """What one connection has done (wall-clock epoch seconds), as the heartbeat shows it."""

    connection_id: str
    streams: int
    connected_at: float | None = None
    last_message_at: float | None = None
    reconnect_count: int = 0
    malformed_count: int = 0
    opened: int = field(default=0, repr=False)


@dataclass
class _Link:
    """One open socket of the connection."""

    ws: ClientConnection
    opened: float  # time.monotonic()
    last_message: float
    rotate_reason: str | None = None
    lost_reason: str | None = None
    successor: asyncio.Task | None = None
    healthy: bool = False


class KlineStream:
    """The ``<symbol>@kline_<interval>`` streams of ``symbols`` over one combined connection."""

    def __init__(
        self,
        connection_id: str,
        base_url: str,
        symbols: list[str],
        on_event: Callable[[KlineEvent], None],
        *,
        budget: ConnectionBudget,
        interval: str = "1m",
        idle_timeout_s: float = 30.0,
        max_age_s: float = 23.5 * 3600,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
    ):
        if not 0 < len(symbols) <= MAX_STREAMS_PER_CONNECTION:
            raise ValueError(f"a connection carries 1..{MAX_STREAMS_PER_CONNECTION} streams, got {len(symbols)}")
        self.url = combined_stream_url(base_url, [stream_name(symbol, interval) for symbol in symbols])
        self.stats = ConnectionStats(connection_id, len(symbols))
        self._symbols = frozenset(symbols)
        self._interval = interval
        self._on_event = on_event
        self._budget = budget
        self._backoff = backoff or Backoff()
        self._idle_timeout_s, self._max_age_s, self._open_timeout_s = idle_timeout_s, max_age_s, open_timeout_s

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop`` is set (or raise ``StreamRefusedError``)."""
        link = await self._open(stop, after_loss=False)
        while link is not None:
            link = await self._serve(link, stop)

    # -- one socket --------------------------------------------------------------------------

    async def _serve(self, link: _Link, stop: asyncio.Event) -> _Link | None:
        """Read ``link`` until it ends; returns the link to read next (None: stopping)."""
        watchdog = asyncio.ensure_future(self._watch(link, stop))
        try:
            async for raw in link.ws:
                link.last_message = time.monotonic()
                self._handle(raw, link)
        except ConnectionClosed as err:
            link.lost_reason = link.lost_reason or f"closed by the server ({err})"
        finally:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        if link.successor is not None:
            return await link.successor
        if stop.is_set():
            await link.ws.close()
            return None
        _log.warning("%s: connection lost (%s); reconnecting", self.stats.connection_id, link.lost_reason or "closed")
        return await self._open(stop, after_loss=True)

    async def _watch(self, link: _Link, stop: asyncio.Event) -> None:
        """Ends ``link`` when stopping, silent too long, or replaced by a successor."""
        while not await wait_or_stop(stop, _WATCH_EVERY_S):
            now = time.monotonic()
            if link.successor is None and (link.rotate_reason or now - link.opened >= self._max_age_s):
                reason = link.rotate_reason or f"connection is {(now - link.opened) / 3600:.1f} h old"
                _log.info("%s: %s: opening a new connection before closing this one", self.stats.connection_id, reason)
                link.successor = asyncio.ensure_future(self._open(stop, after_loss=False))
            if link.successor is not None and link.successor.done():
                await link.ws.close()  # messages already received are still read
                return
            if now - link.last_message > self._idle_timeout_s:
                link.lost_reason = f"no message for {self._idle_timeout_s:g} s"
                link.ws.transport.abort()
                return
        await link.ws.close()

    def _handle(self, raw: str | bytes, link: _Link) -> None:
        stats = self.stats
        stats.last_message_at = time.time()
        try:
            event = parse_message(raw, self._interval)
            if isinstance(event, KlineEvent) and event.symbol not in self._symbols:
                raise MalformedFrame(f"symbol {event.symbol!r} is not one this connection subscribed to")
        except MalformedFrame as err:
            stats.malformed_count += 1
            _log.warning("%s: skipped malformed message #%d (%s): %.200r", stats.connection_id, stats.malformed_count, err, raw)
            return
        if isinstance(event, ServerShutdown):
            link.rotate_reason = "the server announced a shutdown"
            return
        if not link.healthy:
            link.healthy = True
            self._backoff.reset()
        self._on_event(event)

    # -- connecting --------------------------------------------------------------------------

    async def _open(self, stop: asyncio.Event, *, after_loss: bool) -> _Link | None:
        """Connect, retrying with jittered backoff; None when ``stop`` is set first."""
        delay = self._backoff.next_delay() if after_loss else 0.0
        while True:
            if delay and await wait_or_stop(stop, delay):
                return None
            if stop.is_set() or not await self._budget.acquire(stop):
                return None
            try:
                ws = await connect(
                    self.url,
                    compression=None,
                    ping_interval=None,  # liveness is the idle timeout; the server's pings are answered
                    open_timeout=self._open_timeout_s,
                    close_timeout=2,
                    max_queue=1024,
                )
            except InvalidStatus as err:
                status = err.response.status_code
                body = err.response.body.decode("utf-8", "replace") if err.response.body else ""
                if 400 <= status < 500 and status not in _RETRYABLE_4XX:
                    raise StreamRefusedError(self.url, status, body) from None
                retry_after = float(err.response.headers.get("Retry-After", 0) or 0)
                delay = max(retry_after, self._backoff.next_delay())
                _log.warning("%s: the server answered HTTP %d; retrying in %.1f s", self.stats.connection_id, status, delay)
                continue
            except (OSError, TimeoutError, InvalidHandshake) as err:
                delay = self._backoff.next_delay()
                _log.warning("%s: cannot connect (%s); retrying in %.1f s", self.stats.connection_id, err or type(err).__name__, delay)
                continue
            return self._opened(ws)

    def _opened(self, ws: ClientConnection) -> _Link:
        stats = self.stats
        if stats.opened:
            stats.reconnect_count += 1
        stats.opened += 1
        stats.connected_at = time.time()
        _log.info("%s: connected (%d streams, connection #%d)", stats.connection_id, stats.streams, stats.opened)
        now = time.monotonic()
        return _Link(ws, now, now)
