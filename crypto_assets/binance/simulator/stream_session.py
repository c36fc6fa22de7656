"""One open stream connection: pushes on the market clock, pings, and the connection rules.

Three tasks share the socket (websockets' sans-I/O ``ServerProtocol`` does the framing):

* pushes: every 2 s of market time, one message per stream with the candle as it stands; at
  a minute boundary the finished candle goes first with ``x`` true (exactly REST's kline for
  that minute), then the new minute's first push. A stall skips pushes and nothing is
  replayed; a client or clock far behind (over 5 market minutes) also jumps to the present;
* pings: every ``ping_interval_s``; no pong echoing a ping within ``pong_timeout_s`` closes
  the connection, as does a client sending over ``max_incoming_per_s`` messages in a second
  (pings, pongs and requests all count; closed with 1008 "Too many requests", as Binance does);
* reading: the client's frames: pongs, closes, and ``SUBSCRIBE`` / ``UNSUBSCRIBE`` /
  ``LIST_SUBSCRIPTIONS`` requests, answered as the exchange does (``stream_control.py``).

A symbol whose exchangeInfo status is not ``TRADING`` (the ``symbol_status`` fault) is silent.

The connection ends after ``max_lifetime_s`` (the exchange's 24 h), on a drop, or after a
``serverShutdown`` event and its grace period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from websockets.exceptions import ProtocolError
from websockets.frames import CloseCode, Frame, Opcode
from websockets.server import ServerProtocol

from crypto_assets.binance.simulator import stream_frames
from crypto_assets.binance.simulator.stream_control import answer
from crypto_assets.binance.simulator.stream_limits import MessageRate
from crypto_assets.binance.simulator.stream_request import StreamRoute, subscription
from crypto_assets.binance.wire import MINUTE_MS

if TYPE_CHECKING:
    from crypto_assets.binance.simulator.ws import StreamHub

PUSH_MS = 2_000
_MAX_BEHIND_MS = 5 * MINUTE_MS
_MAX_SLEEP_S = 0.5  # re-read the clock at least this often (tests move it)
_log = logging.getLogger(__name__)


class StreamSession:
    """Serves one upgraded connection until it closes."""

    def __init__(
        self,
        hub: StreamHub,
        protocol: ServerProtocol,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        route: StreamRoute,
    ) -> None:
        self._hub, self._protocol, self._reader, self._writer = hub, protocol, reader, writer
        self._combined = route.combined
        self.subscriptions = {sub.name: sub for sub in route.subscriptions}
        self._rate = MessageRate(hub.rules.max_incoming_per_s)
        self._pings: dict[bytes, float] = {}  # unanswered ping payload -> when sent
        self._ping_count = 0
        self._closed = asyncio.Event()
        self.close_reason = ""

    async def run(self) -> None:
        """Serve until the connection ends for any reason."""
        tasks = [
            asyncio.ensure_future(job)
            for job in (self._push(), self._ping(), self._read(), self._closed.wait())
        ]
        try:
            await asyncio.wait(
                tasks, timeout=self._hub.rules.max_lifetime_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not self.close_reason:
                self.close(
                    CloseCode.NORMAL_CLOSURE, "connection lifetime reached", reason_key="lifetime"
                )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._writer.close()  # after the close frame is out (a dropped socket is gone already)

    # -- ending ------------------------------------------------------------------------------

    def close(self, code: int, reason: str, *, reason_key: str) -> None:
        """Send a close frame and end the connection (the reason is counted in the stats)."""
        if self.close_reason:
            return
        self.close_reason = reason_key
        self._hub.stats.count(f"closed_{reason_key}")
        try:
            self._protocol.send_close(code, reason)
            self._flush()
        except (ProtocolError, ConnectionError, RuntimeError):
            pass
        self._closed.set()

    def drop(self) -> None:
        """Cut the socket without a close frame, as a network failure does."""
        if not self.close_reason:
            self.close_reason = "dropped"
            self._hub.stats.count("closed_dropped")
        self._writer.transport.abort()
        self._closed.set()

    async def announce_shutdown(self, grace_s: float) -> None:
        """Send ``serverShutdown``, keep serving for ``grace_s``, then close."""
        self._send([stream_frames.server_shutdown(self._hub.clock.now_ms())])
        try:
            await asyncio.wait_for(self._closed.wait(), grace_s)
        except TimeoutError:
            self.close(CloseCode.GOING_AWAY, "server shutdown", reason_key="shutdown")

    # -- sending -----------------------------------------------------------------------------

    def _send(self, texts: list[str]) -> None:
        for text in texts:
            self._protocol.send_text(text.encode())
        self._flush()

    def _flush(self) -> None:
        data = self._protocol.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(b"".join(data))

    # -- pushes ------------------------------------------------------------------------------

    async def _push(self) -> None:
        clock = self._hub.clock
        tick = clock.now_ms() // PUSH_MS * PUSH_MS + PUSH_MS
        while True:
            wait = clock.wall_seconds_until(tick)
            if wait is None or wait > 0:
                await asyncio.sleep(_MAX_SLEEP_S if wait is None else min(wait, _MAX_SLEEP_S))
                now = clock.now_ms()
                if tick - now > 2 * PUSH_MS:  # the clock was moved back
                    tick = now // PUSH_MS * PUSH_MS + PUSH_MS
                continue
            now = clock.now_ms()
            if now - tick > _MAX_BEHIND_MS or self._hub.faults.stalled():
                tick = now // PUSH_MS * PUSH_MS + PUSH_MS  # nothing is replayed
                continue
            self._send(self._messages(tick))
            await self._writer.drain()
            tick += PUSH_MS

    def _messages(self, tick: int) -> list[str]:
        """Every stream's pushes at market instant ``tick``."""
        store, outages = self._hub.store, self._hub.outages()
        statuses = self._hub.status_overrides()
        forming_open = tick - tick % MINUTE_MS
        messages = []
        for sub in list(self.subscriptions.values()):
            spec = sub.spec
            if statuses.get(spec.symbol, spec.status) != "TRADING":
                continue
            pushes = []
            if (
                tick == forming_open
                and (
                    final := store.minute(spec, forming_open - MINUTE_MS, now=tick, outages=outages)
                )
                is not None
            ):
                pushes.append(
                    stream_frames.kline_event(spec.symbol, sub.interval, final, tick, True)
                )
            if (row := store.minute(spec, forming_open, now=tick, outages=outages)) is not None:
                pushes.append(
                    stream_frames.kline_event(spec.symbol, sub.interval, row, tick, False)
                )
            for payload in pushes:
                if self._hub.faults.take_malformed():
                    payload = stream_frames.malformed(
                        payload, self._hub.stats.count("malformed_sent")
                    )
                messages.append(
                    stream_frames.combined(sub.name, payload) if self._combined else payload
                )
        self._hub.stats.count("pushes", len(messages))
        return messages

    # -- pings -------------------------------------------------------------------------------

    async def _ping(self) -> None:
        rules = self._hub.rules
        while True:
            await asyncio.sleep(rules.ping_interval_s)
            now = time.monotonic()
            if self._pings and now - min(self._pings.values()) > rules.pong_timeout_s:
                self.close(CloseCode.POLICY_VIOLATION, "pong timeout", reason_key="pong_timeout")
                return
            if self._hub.faults.stalled():
                continue
            self._ping_count += 1
            payload = str(self._ping_count).encode()
            self._pings[payload] = now
            self._protocol.send_ping(payload)
            self._flush()
            self._hub.stats.count("pings")

    # -- reading -----------------------------------------------------------------------------

    def _answer(self, request: bytes) -> None:
        hub = self._hub
        reply, failed = answer(
            request,
            self.subscriptions,
            lambda name: subscription(name, hub.symbols),
            hub.rules.max_streams,
        )
        hub.stats.count("requests_refused" if failed else "requests")
        self._protocol.send_text(reply.encode())

    async def _read(self) -> None:
        while True:
            data = await self._reader.read(65536)
            if not data:
                self._protocol.receive_eof()
                self.close_reason = self.close_reason or "client_gone"
                return
            self._protocol.receive_data(data)
            for frame in self._protocol.events_received():
                if not isinstance(frame, Frame):
                    continue  # after the handshake, only frames arrive
                if self._rate.exceeded():
                    self.close(
                        CloseCode.POLICY_VIOLATION, "Too many requests", reason_key="message_rate"
                    )
                    return
                if frame.opcode is Opcode.PONG and bytes(frame.data) in self._pings:
                    sent = self._pings[bytes(frame.data)]
                    self._pings = {p: t for p, t in self._pings.items() if t > sent}
                    self._hub.stats.count("pongs")
                elif frame.opcode is Opcode.TEXT:
                    self._answer(bytes(frame.data))
            self._flush()  # answers to the client's pings, requests and closes
            if self._protocol.close_expected():
                self.close_reason = self.close_reason or "client_closed"
                return
