"""``SimulatorServer``: the whole simulated exchange on a background thread, for tests and the CLI.

    with SimulatorServer(recordings=True) as sim:      # port 0: the OS picks a free one
        httpx.get(f"{sim.url}/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"})
        sim.faults.update(fail_next_n=2)
        sim.clock.set(frozen_now_ms=1725451200000)
        assert sim.stats[429] == 0
        websockets.connect(f"{sim.ws_url}/stream?streams=btcusdt@kline_1m")  # same port
        sim.streams.faults.update(malformed_next_n=1); sim.streams.drop_all()

The server runs its own asyncio event loop in a daemon thread; the Python API (faults, clock,
stats, reset) is thread-safe and takes effect on the next request.
"""

from __future__ import annotations

import asyncio
import threading

from crypto_assets.binance.simulator.admin import Admin
from crypto_assets.binance.simulator.app import Application
from crypto_assets.binance.simulator.archive import (
    DEFAULT_DAILY_DELAY_MS,
    DEFAULT_MONTHLY_DELAY_MS,
    ArchiveFiles,
)
from crypto_assets.binance.simulator.clock import SimClock
from crypto_assets.binance.simulator.faults import Faults
from crypto_assets.binance.simulator.http11 import HttpServer
from crypto_assets.binance.simulator.klines import KlineStore
from crypto_assets.binance.simulator.limits import FIRST_BAN_S, RateLimiter
from crypto_assets.binance.simulator.rest import RestApi
from crypto_assets.binance.simulator.stats import Stats
from crypto_assets.binance.simulator.stream_limits import StreamRules
from crypto_assets.binance.simulator.symbols import build_universe
from crypto_assets.binance.simulator.ws import StreamHub

_START_TIMEOUT_S = 10.0


class SimulatorServer:
    """A Binance spot REST simulator listening on ``host:port``.

    ``weight_limit`` per ``window_seconds`` is the REQUEST_WEIGHT rule (exchangeInfo reports it),
    ``first_ban_s`` the length of an IP's first 418 ban (Binance's 2 minutes by default);
    ``enforce_limits=False`` never answers 429/418 (throughput benchmarks); ``recordings=True``
    serves the recorded real BTCUSDT candles where they exist; ``extra_symbols=N`` adds N
    synthetic TRADING symbols SYM0001USDT..; ``clock`` shares a ``SimClock``, a wall-clock one
    by default. WebSocket streams are served on the same port (``ws_url``, ``streams``) under
    ``stream_rules`` (Binance's ping, lifetime and rate rules by default), and so is the kline
    archive (``url`` is also ``BINANCE_ARCHIVE_URL``; ``archive.py``), its zips kept in
    ``archive_cache_bytes``, daily and monthly files published the given delays after their period.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        weight_limit: int = 6000,
        window_seconds: int = 60,
        first_ban_s: int = FIRST_BAN_S,
        enforce_limits: bool = True,
        recordings: bool = False,
        extra_symbols: int = 0,
        clock: SimClock | None = None,
        stream_rules: StreamRules | None = None,
        cache_bytes: int = 128 << 20,
        archive_cache_bytes: int = 256 << 20,
        archive_daily_delay_ms: int = DEFAULT_DAILY_DELAY_MS,
        archive_monthly_delay_ms: int = DEFAULT_MONTHLY_DELAY_MS,
    ) -> None:
        self.host, self.port = host, port
        self.clock = clock or SimClock()
        self.symbols = build_universe(extra_symbols)
        self.store = KlineStore(recordings_enabled=recordings, cache_bytes=cache_bytes)
        self.limiter = RateLimiter(weight_limit, window_seconds, first_ban_s=first_ban_s)
        self.faults = Faults(enforce_limits=enforce_limits)
        self.stats = Stats()
        rest = RestApi(self.symbols, self.store, self.clock, self.limiter, self.faults)
        self.streams = StreamHub(self.symbols, self.store, self.clock, self.faults, stream_rules)
        admin = Admin(self.faults, self.limiter, self.stats, self.clock, self.streams)
        archive = ArchiveFiles(
            self.symbols,
            self.store,
            self.clock,
            self.faults,
            self.stats,
            cache_bytes=archive_cache_bytes,
            daily_delay_ms=archive_daily_delay_ms,
            monthly_delay_ms=archive_monthly_delay_ms,
        )
        application = Application(
            rest, admin, archive, self.limiter, self.faults, self.stats, self.clock
        )
        self._http = HttpServer(application, self.streams.upgrade)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the chosen port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """WebSocket base URL on the same port, e.g. ``ws://127.0.0.1:54321`` (``BINANCE_WS_URL``)."""
        return "ws" + self.url[len("http") :]

    def start(self) -> SimulatorServer:
        """Listen and serve on a background thread; returns self once the port is open."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running; stop() it first")
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self.port = loop.run_until_complete(self._http.start(self.host, self.port))
            except BaseException as err:  # noqa: BLE001 - reported to start()'s caller
                failure.append(err)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._http.close())
            # Connection handlers still running (open streams) end here, while the loop can
            # still run their clean-up, not later from the garbage collector.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(
            target=run, name=f"binance-simulator-{self.port}", daemon=True
        )
        self._thread.start()
        if not started.wait(_START_TIMEOUT_S):
            raise RuntimeError(
                f"the simulator did not start listening on {self.host}:{self.port} within {_START_TIMEOUT_S} s"
            )
        if failure:
            self._thread.join()
            self._thread = None
            raise OSError(
                f"the simulator cannot listen on {self.host}:{self.port}: {failure[0]}"
            ) from failure[0]
        return self

    def stop(self) -> None:
        """Close every connection and stop the server thread (no-op when not running)."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None

    def reset(self) -> None:
        """Faults off, weight counts and bans cleared, response and stream counts zeroed, clock as
        constructed (open stream connections stay open)."""
        self.faults.reset()
        self.streams.reset()
        self.limiter.reset()
        self.stats.reset()
        self.clock.reset()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
