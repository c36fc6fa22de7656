"""One Binance combined-stream connection for a changing set of symbols' ``kline_1m``, kept open for good.

``KlineStream.run(stop)`` connects, hands every kline event to ``on_event`` and keeps the feed
alive until ``stop`` is set; ``set_symbols`` changes what it carries at any time. The limits
it keeps are the exchange's (``/work/shared/binance-api.md``, "WebSocket market streams"):

* at most 1024 streams per connection (``MAX_STREAMS_PER_CONNECTION``; the collector plans
  connections so);
* a short URL: the connection opens naming only as many streams as fit in ``MAX_URL_CHARS``
  characters, and adds the rest with ``SUBSCRIBE`` requests of ``STREAMS_PER_REQUEST`` names;
  each reply is checked (``{"result": null, "id": N}``; an error reply is logged naming the
  streams of that request, which are then reported as not streaming and asked again on the
  next ``set_symbols``), and no reply within ``REPLY_TIMEOUT_S`` counts as a lost connection;
* 5 incoming messages a second per connection, pings and pongs included: requests go out at
  most one per ``REQUEST_SPACING_S`` (never more than 2 in a second), which leaves room for
  the pongs answering the server's pings (one every 20 s on the exchange; tests ping twice a
  second, and a busy machine can bunch those pongs up);
* 300 connection attempts per 5 minutes per IP: each attempt first takes one from the
  process's shared ``ConnectionBudget``; lost connections are reopened after a jittered backoff.

Lost connections (dropped, closed, or silent for ``idle_timeout_s``: a stall) are reopened.
Before the exchange's 24 h limit (``max_age_s``) and at once on a ``serverShutdown`` event, a
new connection is opened and fully subscribed *before* the old one is closed, and both are
read meanwhile, so a planned reconnect loses no push. The server's pings are answered by
websockets (pongs echo the payload). Every message is validated (``stream_wire``); a bad one
is dropped alone, counted by reason in ``stats.dropped`` and logged at most once a minute per
reason. A refusal that retrying cannot fix (HTTP 4xx other than 408/418/429) raises
``StreamRefusedError`` with the server's words.

Nothing is replayed after a reconnect: the missed minutes are the ``candles_1m`` asset's job.
``stats`` is what the heartbeat reports.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from crypto_assets.binance.errors import BinanceError
from crypto_assets.binance.stream_backoff import Backoff, ConnectionBudget, wait_or_stop
from crypto_assets.binance.stream_wire import (
    KlineEvent,
    MalformedFrame,
    Reply,
    ServerShutdown,
    control_request,
    parse_message,
    stream_name,
    url_and_rest,
)
from crypto_assets.binance.throttled_log import ThrottledLog

_log = logging.getLogger(__name__)
# binance-api.md, WebSocket market streams: "At most 1024 streams per connection".
MAX_STREAMS_PER_CONNECTION = 1024
# Front ends refuse request lines over 8 KB (the simulator too); published reports put
# Binance's own limit near 8,000 characters: rely on no more than about 2,000 (issue 14).
MAX_URL_CHARS = 2000
# A SUBSCRIBE of 200 names is about 4.4 KB: far below any frame limit.
STREAMS_PER_REQUEST = 200
# binance-api.md: "5 incoming messages a second per connection (pings and subscribe calls
# count)". Requests 0.5 s apart make at most 2 in any second, the rest is room for pongs.
REQUEST_SPACING_S = 0.5
REPLY_TIMEOUT_S = 10.0
_WATCH_EVERY_S = 0.1
_RETRYABLE_4XX = {408, 418, 429}


class StreamRefusedError(BinanceError):
    """The stream server refuses the connection in a way retrying will not fix."""

    def __init__(self, url: str, status: int, body: str) -> None:
        self.url, self.status = url, status
        shown = url if len(url) <= 200 else f"{url[:200]}... ({len(url)} characters)"
        super().__init__(
            f"the stream server refused {shown} with HTTP {status}: {body.strip()[:300]}"
        )


class _NoReply(Exception):
    """A control request went unanswered: the connection is treated as lost."""


@dataclass
class ConnectionStats:
    """What one connection has done (wall-clock epoch seconds), as the heartbeat shows it.

    ``streams``: symbols it carries (subscribed, or to be once connected: a connection that
    cannot connect still shows them); ``dropped``: messages (and, counted by the collector,
    rows) dropped for this connection's symbols, by reason; ``not_streaming``: configured
    symbols of this connection that are not streamed, and why (their exchange status, or the
    stream server's refusal)."""

    connection_id: str
    streams: int = 0
    connected_at: float | None = None
    last_message_at: float | None = None
    reconnect_count: int = 0
    malformed_count: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    not_streaming: dict[str, str] = field(default_factory=dict)
    opened: int = field(default=0, repr=False)


@dataclass
class _Link:
    """One open socket of the connection."""

    ws: ClientConnection
    opened: float  # time.monotonic()
    last_message: float
    streaming: set[
        str
    ]  # symbols whose pushes are accepted: named in the URL, subscribed, or being unsubscribed
    pending: dict[int, tuple[list[str], asyncio.Future[Any]]] = field(default_factory=dict)
    ready: asyncio.Event = field(
        default_factory=asyncio.Event
    )  # every wanted symbol subscribed (or refused)
    last_request: float = float("-inf")
    rotate_reason: str | None = None
    lost_reason: str | None = None
    healthy: bool = False


class KlineStream:
    """The ``<symbol>@kline_<interval>`` streams of a set of symbols over one combined connection."""

    def __init__(
        self,
        connection_id: str,
        base_url: str,
        on_event: Callable[[KlineEvent], None],
        *,
        budget: ConnectionBudget,
        interval: str = "1m",
        idle_timeout_s: float = 30.0,
        max_age_s: float = 23.5 * 3600,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
        log: ThrottledLog | None = None,
    ) -> None:
        self.base_url = base_url
        self.stats = ConnectionStats(connection_id)
        self._wanted: list[str] = []
        self._refused: dict[str, str] = {}
        self._not_trading: dict[str, str] = {}
        self._changed = asyncio.Event()
        self._interval = interval
        self._on_event = on_event
        self._budget = budget
        self._backoff = backoff or Backoff()
        self._log = log or ThrottledLog(_log)
        self._next_id = 0
        self._idle_timeout_s, self._max_age_s, self._open_timeout_s = (
            idle_timeout_s,
            max_age_s,
            open_timeout_s,
        )

    # -- what to carry -----------------------------------------------------------------------

    def set_symbols(
        self, symbols: Iterable[str], not_trading: dict[str, str] | None = None
    ) -> None:
        """Carry these symbols from now on (the open connection subscribes and unsubscribes);
        ``not_trading`` (symbol -> exchange status) is reported as not streaming. Streams the
        server refused are asked again."""
        wanted = list(dict.fromkeys(symbols))
        if len(wanted) > MAX_STREAMS_PER_CONNECTION:
            raise ValueError(
                f"a connection carries at most {MAX_STREAMS_PER_CONNECTION} streams, got {len(wanted)}"
            )
        self._wanted, self._refused, self._not_trading = wanted, {}, dict(not_trading or {})
        self._report()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    @property
    def symbols(self) -> list[str]:
        return list(self._wanted)

    def _report(self) -> None:
        """What the heartbeat says this connection carries (whether connected or not) and does not."""
        self.stats.streams = sum(1 for s in self._wanted if s not in self._refused)
        self.stats.not_streaming = {**self._not_trading, **self._refused}

    # -- the connection over time ------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop`` is set (or raise ``StreamRefusedError``)."""
        link: _Link | None = None
        reading: asyncio.Task[None] | None = None
        lost = False
        try:
            while not stop.is_set():
                if link is None:
                    if not self._wanted:
                        await self._until_symbols(stop)
                        continue
                    link = await self._open(stop, after_loss=lost)
                    if link is None:
                        continue  # stopping, or no symbol left to carry
                    reading = asyncio.ensure_future(self._serve(link, stop))
                assert reading is not None  # opened with its link, cleared with it
                if await self._until_rotation(link, reading, stop):
                    link, reading = await self._rotate(link, reading, stop)
                    lost = link is None
                else:
                    await reading
                    reading.result()  # a StreamRefusedError surfaces here
                    lost = not stop.is_set() and bool(self._wanted)
                    if lost:
                        _log.warning(
                            "%s: connection lost (%s); reconnecting",
                            self.stats.connection_id,
                            link.lost_reason or "closed",
                        )
                    link, reading = None, None
        finally:
            if link is not None and reading is not None:
                await link.ws.close()
                await asyncio.gather(reading, return_exceptions=True)

    async def _until_symbols(self, stop: asyncio.Event) -> None:
        changed = asyncio.ensure_future(self._changed.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([changed, stopping], return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        stopping.cancel()

    async def _until_rotation(
        self, link: _Link, reading: asyncio.Task[None], stop: asyncio.Event
    ) -> bool:
        """Wait until ``link`` ends (False) or must be replaced (True)."""
        while not reading.done() and not stop.is_set():
            age = time.monotonic() - link.opened
            if link.rotate_reason is None and age >= self._max_age_s:
                link.rotate_reason = f"connection is {age / 3600:.1f} h old"
            if link.rotate_reason is not None:
                return True
            await asyncio.wait([reading], timeout=_WATCH_EVERY_S)
        return False

    async def _rotate(
        self, old: _Link, reading: asyncio.Task[None], stop: asyncio.Event
    ) -> tuple[_Link | None, asyncio.Task[None] | None]:
        """Open and subscribe a successor while ``old`` is still read, then close ``old``."""
        _log.info(
            "%s: %s: opening a new connection before closing this one",
            self.stats.connection_id,
            old.rotate_reason,
        )
        successor = await self._open(stop, after_loss=False)
        successor_reading = None
        if successor is not None:
            successor_reading = asyncio.ensure_future(self._serve(successor, stop))
            ready = asyncio.ensure_future(successor.ready.wait())
            await asyncio.wait(
                [ready, successor_reading, reading], return_when=asyncio.FIRST_COMPLETED
            )
            ready.cancel()
        await old.ws.close()  # messages already received are still read
        await asyncio.gather(reading, return_exceptions=True)
        if successor_reading is not None and successor_reading.done():
            successor_reading.result()
            return None, None  # the successor was lost already: reconnect after a backoff
        return successor, successor_reading

    # -- one socket --------------------------------------------------------------------------

    async def _serve(self, link: _Link, stop: asyncio.Event) -> None:
        """Read ``link`` until it ends, keeping its subscriptions equal to the wanted symbols."""
        watchdog = asyncio.ensure_future(self._watch(link, stop))
        control = asyncio.ensure_future(self._control(link))
        try:
            async for raw in link.ws:
                link.last_message = time.monotonic()
                self._handle(raw, link)
        except ConnectionClosed as err:
            link.lost_reason = link.lost_reason or f"closed by the server ({err})"
        finally:
            for task in (watchdog, control):
                task.cancel()
            await asyncio.gather(watchdog, control, return_exceptions=True)

    async def _watch(self, link: _Link, stop: asyncio.Event) -> None:
        """Ends ``link`` when stopping or silent too long."""
        while not await wait_or_stop(stop, _WATCH_EVERY_S):
            if time.monotonic() - link.last_message > self._idle_timeout_s:
                link.lost_reason = f"no message for {self._idle_timeout_s:g} s"
                link.ws.transport.abort()
                return
        await link.ws.close()

    def _handle(self, raw: str | bytes, link: _Link) -> None:
        stats = self.stats
        stats.last_message_at = time.time()
        try:
            event = parse_message(raw, self._interval, link.streaming)
        except MalformedFrame as err:
            stats.malformed_count += 1
            stats.dropped[err.reason] += 1
            self._log.warning(
                f"malformed: {err.reason}",
                "%s: dropped a malformed message (%s): %.200r",
                stats.connection_id,
                err,
                raw,
            )
            return
        if isinstance(event, Reply):
            waiting = link.pending.pop(event.id, None) if isinstance(event.id, int) else None
            if waiting is None:
                stats.dropped["reply to no request"] += 1
                self._log.warning(
                    "reply to no request",
                    "%s: a reply to no request of ours: %.200r",
                    stats.connection_id,
                    raw,
                )
            elif not waiting[1].done():
                waiting[1].set_result(event)
            return
        if isinstance(event, ServerShutdown):
            link.rotate_reason = "the server announced a shutdown"
            return
        if not link.healthy:
            link.healthy = True
            self._backoff.reset()
        self._on_event(event)

    # -- subscriptions -----------------------------------------------------------------------

    async def _control(self, link: _Link) -> None:
        """SUBSCRIBE what is wanted and not streaming, UNSUBSCRIBE what is no longer wanted, whenever
        the wanted symbols change; a missing reply ends the link."""
        try:
            while True:
                changed = self._changed
                wanted = set(self._wanted)
                if not wanted:
                    link.lost_reason = "no symbols left to stream"
                    await link.ws.close()
                    return
                remove = [s for s in link.streaming if s not in wanted]
                add = [
                    s for s in self._wanted if s not in link.streaming and s not in self._refused
                ]
                for batch in _batches(remove):
                    reply = await self._request(link, "UNSUBSCRIBE", batch)
                    link.streaming.difference_update(
                        batch
                    )  # not asked again: their pushes now count as dropped
                    if reply.error is not None:
                        _log.error(
                            "%s: the server refused UNSUBSCRIBE from %s (%s)",
                            self.stats.connection_id,
                            ", ".join(stream_name(s, self._interval) for s in batch),
                            reply.error,
                        )
                for batch in _batches(add):
                    link.streaming.update(batch)
                    reply = await self._request(link, "SUBSCRIBE", batch)
                    if reply.error is not None:
                        link.streaming.difference_update(batch)
                        self._refuse(batch, reply.error)
                if changed is self._changed:
                    link.ready.set()
                    await changed.wait()
        except _NoReply as err:
            link.lost_reason = str(err)
            link.ws.transport.abort()

    async def _request(self, link: _Link, method: str, symbols: list[str]) -> Reply:
        """Send one paced control request for ``symbols``' streams and wait for its reply."""
        wait = link.last_request + REQUEST_SPACING_S - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next_id += 1
        request_id = self._next_id
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.pending[request_id] = (symbols, reply)
        link.last_request = time.monotonic()
        try:
            await link.ws.send(
                control_request(
                    method, [stream_name(s, self._interval) for s in symbols], request_id
                )
            )
            return await asyncio.wait_for(reply, REPLY_TIMEOUT_S)
        except TimeoutError:
            raise _NoReply(
                f"no reply to {method} #{request_id} within {REPLY_TIMEOUT_S:g} s"
            ) from None
        finally:
            link.pending.pop(request_id, None)

    def _refuse(self, symbols: list[str], error: str) -> None:
        streams = ", ".join(stream_name(s, self._interval) for s in symbols)
        _log.error(
            "%s: the server refused SUBSCRIBE to %s (%s); they are not streamed until the symbols are"
            " next checked",
            self.stats.connection_id,
            streams,
            error,
        )
        self._refused.update((s, f"subscription refused: {error}") for s in symbols)
        self._report()

    # -- connecting --------------------------------------------------------------------------

    async def _open(self, stop: asyncio.Event, *, after_loss: bool) -> _Link | None:
        """Connect, retrying with jittered backoff; None when ``stop`` is set first or no symbol
        is left to carry."""
        delay = self._backoff.next_delay() if after_loss else 0.0
        while True:
            if delay and await wait_or_stop(stop, delay):
                return None
            if stop.is_set() or not self._wanted or not await self._budget.acquire(stop):
                return None
            streams = [stream_name(s, self._interval) for s in self._wanted]
            url, named = url_and_rest(self.base_url, streams, MAX_URL_CHARS)
            try:
                ws = await connect(
                    url,
                    compression=None,
                    ping_interval=None,  # liveness is the idle timeout; the server's pings are answered
                    open_timeout=self._open_timeout_s,
                    close_timeout=2,
                    max_queue=4096,
                )
            except InvalidStatus as err:
                status = err.response.status_code
                body = err.response.body.decode("utf-8", "replace") if err.response.body else ""
                if 400 <= status < 500 and status not in _RETRYABLE_4XX:
                    raise StreamRefusedError(url, status, body) from None
                retry_after = float(err.response.headers.get("Retry-After", 0) or 0)
                delay = max(retry_after, self._backoff.next_delay())
                _log.warning(
                    "%s: the server answered HTTP %d; retrying in %.1f s",
                    self.stats.connection_id,
                    status,
                    delay,
                )
                continue
            except (OSError, TimeoutError, InvalidHandshake) as err:
                delay = self._backoff.next_delay()
                _log.warning(
                    "%s: cannot connect (%s); retrying in %.1f s",
                    self.stats.connection_id,
                    str(err) or type(err).__name__,
                    delay,
                )
                continue
            return self._opened(ws, set(self._wanted[:named]))

    def _opened(self, ws: ClientConnection, named: set[str]) -> _Link:
        stats = self.stats
        if stats.opened:
            stats.reconnect_count += 1
        stats.opened += 1
        stats.connected_at = time.time()
        _log.info(
            "%s: connected (%d of %d streams in the URL, connection #%d)",
            stats.connection_id,
            len(named),
            len(self._wanted),
            stats.opened,
        )
        now = time.monotonic()
        return _Link(ws, now, now, named)


def _batches(symbols: list[str]) -> list[list[str]]:
    return [
        symbols[i : i + STREAMS_PER_REQUEST] for i in range(0, len(symbols), STREAMS_PER_REQUEST)
    ]
