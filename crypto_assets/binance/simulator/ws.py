"""The simulator's WebSocket market streams, served on the REST port through an HTTP upgrade.

    ws://127.0.0.1:<port>/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m   (combined)
    ws://127.0.0.1:<port>/ws/btcusdt@kline_1m                                (raw)

``StreamHub`` admits or refuses each upgrade (the 300-attempts-per-5-minutes rule: 429; the
``refuse_s`` fault: 503; a bad stream: 400/404 naming it), completes the handshake with
websockets' sans-I/O ``ServerProtocol`` and hands the socket to a ``StreamSession``. It also
holds the stream faults and counts, and acts on every open connection at once (drop, announce
a shutdown), from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from websockets.http11 import Request as Handshake
from websockets.server import ServerProtocol

from crypto_assets.binance.simulator.clock import SimClock
from crypto_assets.binance.simulator.faults import Faults, checked_number
from crypto_assets.binance.simulator.http11 import Request
from crypto_assets.binance.simulator.klines import KlineStore, Outages
from crypto_assets.binance.simulator.stream_faults import StreamFaults
from crypto_assets.binance.simulator.stream_limits import AttemptWindow, StreamRules
from crypto_assets.binance.simulator.stream_request import (
    StreamRequestError,
    StreamRoute,
    parse_route,
)
from crypto_assets.binance.simulator.stream_session import StreamSession
from crypto_assets.binance.simulator.symbols import SymbolSpec

DEFAULT_SHUTDOWN_GRACE_S = 10.0
_CALL_TIMEOUT_S = 10.0
T = TypeVar("T")


class StreamStats:
    """Thread-safe counts: connections accepted and refused (by status), pushes, malformed
    pushes, pings and pongs, control requests answered (``requests``) and refused
    (``requests_refused``), and connections closed by reason (``closed_<reason>``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, name: str, n: int = 1) -> int:
        """Add ``n`` to a count; returns the count before (an index for the n-th event)."""
        with self._lock:
            before = self._counts[name]
            self._counts[name] = before + n
            return before

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def __getitem__(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


class StreamHub:
    """Every stream connection of one simulator."""

    def __init__(
        self,
        symbols: dict[str, SymbolSpec],
        store: KlineStore,
        clock: SimClock,
        rest_faults: Faults,
        rules: StreamRules | None = None,
    ) -> None:
        self.symbols, self.store, self.clock = symbols, store, clock
        self.rules = rules or StreamRules()
        self.faults = StreamFaults()
        self.stats = StreamStats()
        self._rest_faults = rest_faults
        self._attempts = AttemptWindow(self.rules.max_attempts, self.rules.attempts_window_s)
        self._sessions: set[StreamSession] = set()
        self._shutdowns: set[asyncio.Task[None]] = (
            set()
        )  # held until done (the loop keeps weak refs)
        self._loop: asyncio.AbstractEventLoop | None = None

    def outages(self) -> Outages:
        """The exchange outages REST honours: no candle is pushed inside them either."""
        return self._rest_faults.current.outages

    def status_overrides(self) -> dict[str, str]:
        """Symbols whose exchangeInfo status is changed (``symbol_status``): not TRADING, no pushes."""
        return self._rest_faults.status_overrides()

    # -- the upgrade -------------------------------------------------------------------------

    async def upgrade(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Answer one upgrade request and, when admitted, serve the connection until it ends."""
        self._loop = asyncio.get_running_loop()
        protocol = ServerProtocol(max_size=1 << 16)
        target = f"{request.path}?{request.query}" if request.query else request.path
        head = (
            f"{request.method} {target} HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
            + "\r\n"
        )
        protocol.receive_data(head.encode("latin-1"))  # the head http11 already read, replayed
        events = protocol.events_received()
        if not events:
            writer.write(b"".join(protocol.data_to_send()))
            return
        try:
            route = self._admit(request)
            handshake = events[0]
            if not isinstance(handshake, Handshake):
                raise TypeError(f"expected the upgrade request, got {type(handshake).__name__}")
            response = protocol.accept(handshake)
        except StreamRequestError as err:
            response = protocol.reject(err.status, err.body)
            response.headers["Content-Type"] = "application/json;charset=UTF-8"
            if err.status == 429:
                response.headers["Retry-After"] = str(int(err.retry_after_s) + 1)
        protocol.send_response(response)
        writer.write(b"".join(protocol.data_to_send()))
        await writer.drain()
        self.stats.count(f"status_{response.status_code}")
        if response.status_code != 101:
            return
        session = StreamSession(self, protocol, reader, writer, route)
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)

    def _admit(self, request: Request) -> StreamRoute:
        wait_s = self._attempts.admit(request.client_ip)
        if wait_s:
            rule = (
                f"at most {self.rules.max_attempts} per {self.rules.attempts_window_s:g} s per IP"
            )
            raise StreamRequestError(
                429, -1003, f"Too many connection attempts: {rule}.", retry_after_s=wait_s
            )
        if self.faults.refusing():
            raise StreamRequestError(
                503,
                -1001,
                "Service unavailable: stream connections are refused for now; retry later.",
            )
        return parse_route(request.path, request.query, self.symbols, self.rules.max_streams)

    # -- acting on every connection, from any thread -------------------------------------------

    def open_connections(self) -> int:
        return len(self._sessions)

    def drop_all(self) -> int:
        """Cut every open connection without a close frame; returns how many."""

        def drop() -> int:
            sessions = list(self._sessions)
            for session in sessions:
                session.drop()
            return len(sessions)

        return self._call(drop)

    def shutdown_all(self, grace_s: float = DEFAULT_SHUTDOWN_GRACE_S) -> int:
        """Send ``serverShutdown`` on every open connection and close each ``grace_s`` later."""
        grace_s = checked_number("grace_s", grace_s, float, 0)

        def announce() -> int:
            sessions = list(self._sessions)
            for session in sessions:
                task = asyncio.ensure_future(session.announce_shutdown(grace_s))
                self._shutdowns.add(task)
                task.add_done_callback(self._shutdowns.discard)
            return len(sessions)

        return self._call(announce)

    def _call(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the server's event loop (directly when already on it) and return its result."""
        loop = self._loop
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if loop is None or on_loop:
            return work()

        async def run() -> T:
            return work()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(_CALL_TIMEOUT_S)

    # -- control -----------------------------------------------------------------------------

    def apply(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Admin changes: ``drop``/``shutdown`` (true, or for shutdown the grace in seconds) act
        now; ``malformed_next_n``, ``stall_s``, ``refuse_s`` set faults. Returns the snapshot."""
        changes = dict(changes)
        drop, shutdown = changes.pop("drop", False), changes.pop("shutdown", False)
        if changes:
            self.faults.update(**changes)
        if drop:
            self.drop_all()
        if shutdown:
            self.shutdown_all(DEFAULT_SHUTDOWN_GRACE_S if shutdown is True else shutdown)
        return self.snapshot()

    def subscribed_streams(self) -> int:
        """Streams subscribed over every open connection."""
        return self._call(lambda: sum(len(session.subscriptions) for session in self._sessions))

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready: open connections and the streams they carry, the faults and every count."""
        return {
            "open": self.open_connections(),
            "streams": self.subscribed_streams(),
            "faults": self.faults.snapshot(),
            **self.stats.snapshot(),
        }

    def reset(self) -> None:
        """Faults off, counts zeroed, connection attempts forgotten (open connections stay)."""
        self.faults.reset()
        self.stats.reset()
        self._attempts.reset()
