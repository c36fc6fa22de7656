"""Binance REST client for market data: klines, exchangeInfo, server time.

Built on httpx. Every request goes through the ``WeightLimiter`` and the retry policy, which
is bounded by time (``retry_budget_s``, minutes by default), not by a count: 429 and a short 418
ban are waited out (``Retry-After``, for every request of the client); 5xx, timeouts, dropped
connections and truncated bodies are retried with exponential backoff and jitter; each retry is
logged (why, which attempt, how long the wait) to ``log``, the Dagster run's log in a run. A 418
ban that ends past the budget fails at once and nothing more is sent until it ends; a wait that
would end past the budget fails with the last problem. Binance error bodies become
``BinanceAPIError`` carrying ``code`` and ``msg``. Klines are fetched in fixed 1000-candle windows so several pages
can be in flight at once, oldest first, never past the range end or the present; the candle
still forming is never returned as history.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from crypto_assets.binance.errors import (
    BinanceAPIError,
    BinanceUnavailableError,
    GeoBlockedError,
    IPBannedError,
    SymbolNotTradingError,
    UnknownSymbolError,
)
from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.wire import KLINES_MAX_LIMIT, Kline, interval_ms, parse_kline_row

KLINES_WEIGHT = 2
EXCHANGE_INFO_WEIGHT = 20  # binance-api.md: "GET /api/v3/exchangeInfo (weight 20)"
TIME_WEIGHT = 1
# The longest ``symbols=[...]`` query asked for (URL-encoded): front ends refuse request lines
# over 8 KB, and a longer list costs the same weight as the whole exchangeInfo (20, see
# binance-api.md), so beyond this the whole document is asked once instead.
MAX_SYMBOLS_QUERY_CHARS = 1500
_RETRYABLE_STATUS = {500, 502, 503, 504}
DEFAULT_RETRY_BUDGET_S = 300.0
"""How long one request keeps being retried (config key ``rest_retry_seconds``)."""


@dataclass(frozen=True)
class SymbolInfo:
    """What exchangeInfo says about one symbol."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str


class BinanceRestClient:
    """Thread-safe client for Binance's public market-data endpoints."""

    def __init__(
        self,
        base_url: str,
        *,
        limiter: WeightLimiter | None = None,
        concurrency: int = 4,
        timeout_s: float = 10.0,
        retry_budget_s: float = DEFAULT_RETRY_BUDGET_S,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or WeightLimiter()
        self.concurrency = concurrency
        self.retry_budget_s = retry_budget_s
        self.backoff_s = backoff_s
        self.log = log or logging.getLogger(__name__)
        self._banned_until = 0.0  # wall clock: a 418 ban longer than the retry budget
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            limits=httpx.Limits(
                max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
            ),
            transport=transport,
        )
        self._clock_lock = threading.Lock()
        self._clock_synced = False
        self._limits_configured = False
        self.stats = {"requests": 0, "retries": 0, "throttled": 0}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BinanceRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None, *, weight: int = 1) -> Any:
        """GET ``path`` and decode the JSON body, with rate limiting and retries within the budget."""
        url = f"{self.base_url}{path}"
        what = f"GET {path}" + (f" {params['symbol']}" if params and "symbol" in params else "")
        began = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            self._refuse_while_banned(url)
            sent_at = self.limiter.acquire(weight)
            try:
                response = self._http.get(path, params=params)
                body = response.content
            except (httpx.TimeoutException, httpx.TransportError) as err:
                self.limiter.settle(weight, sent_at, None)
                self._retry(
                    what,
                    url,
                    attempt,
                    began,
                    f"{type(err).__name__}: {str(err) or 'connection failed'}",
                    self._backoff(attempt),
                )
                continue
            self.stats["requests"] += 1
            used = response.headers.get("x-mbx-used-weight-1m")
            self.limiter.settle(weight, sent_at, int(used) if used and used.isdigit() else None)
            status = response.status_code
            if status in (429, 418):
                retry_after = _retry_after(response)
                self.stats["throttled"] += 1
                left = began + self.retry_budget_s - time.monotonic()
                if status == 418 and retry_after > left:
                    self._banned_until = time.time() + retry_after
                    code, msg = _error_fields(body)
                    raise IPBannedError(
                        code, msg, status=418, url=url, retry_after=retry_after, budget_left_s=left
                    )
                self.limiter.block_for(retry_after)  # every request of this client waits it out
                self._retry(
                    what,
                    url,
                    attempt,
                    began,
                    f"HTTP {status} (Retry-After {retry_after:g} s)",
                    retry_after,
                    sleep=False,
                )
                continue
            if status in _RETRYABLE_STATUS:
                self._retry(what, url, attempt, began, f"HTTP {status}", self._backoff(attempt))
                continue
            if status >= 400:
                code, msg = _error_fields(body)
                if status in (451, 403) and "restricted location" in msg.lower():
                    raise GeoBlockedError(code, msg, status=status, url=url)
                raise BinanceAPIError(code, msg, status=status, url=url)
            try:
                return json.loads(body)
            except ValueError:
                problem = f"truncated or malformed JSON body ({len(body)} bytes)"
                self._retry(what, url, attempt, began, problem, self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt``: doubling from ``backoff_s``, at most 30 s, jittered."""
        return min(30.0, self.backoff_s * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def _retry(
        self,
        what: str,
        url: str,
        attempt: int,
        began: float,
        problem: str,
        wait_s: float,
        *,
        sleep: bool = True,
    ) -> None:
        """Log the retry and wait ``wait_s`` (unless the limiter does), or fail when the wait would
        end past the retry budget."""
        spent = time.monotonic() - began
        if spent + wait_s > self.retry_budget_s:
            raise BinanceUnavailableError(
                url, attempt, problem, seconds=spent, budget_s=self.retry_budget_s
            )
        self.stats["retries"] += 1
        self.log.warning(
            f"Binance {what}: {problem}; attempt {attempt} failed, retrying in {wait_s:.1f} s"
            f" ({spent:.0f} s of the {self.retry_budget_s:.0f} s retry budget spent)"
        )
        if sleep:
            time.sleep(wait_s)

    def _refuse_while_banned(self, url: str) -> None:
        """Send nothing during a 418 ban: wait it out when it ends within the retry budget, else
        fail at once (a request sent during a ban would make the exchange extend it)."""
        left = self._banned_until - time.time()
        if left > self.retry_budget_s:
            raise IPBannedError(
                -1003,
                "IP banned (an earlier request was answered 418)",
                status=418,
                url=url,
                retry_after=left,
                budget_left_s=self.retry_budget_s,
            )
        if left > 0:
            self.limiter.block_for(left)

    # -- reference data ---------------------------------------------------------------------

    def server_time_ms(self) -> int:
        """The exchange's clock, in epoch ms (measured once, then tracked locally)."""
        with self._clock_lock:
            if not self._clock_synced:
                before = time.time()
                server = self.get("/api/v3/time", weight=TIME_WEIGHT)["serverTime"]
                after = time.time()
                # serverTime is stamped somewhere in the round trip, and truncated to the ms.
                self.limiter.sync_clock(
                    server / 1000 - (before + after) / 2, (after - before) / 2 + 0.001
                )
                self._clock_synced = True
        return int(self.limiter.now() * 1000)

    def exchange_info(self, symbols: list[str] | None = None) -> dict[str, Any]:
        """exchangeInfo body (all symbols, or at least the given ones: a list too long for a short
        URL asks for the whole document); configures the limiter."""
        listed = json.dumps(list(symbols), separators=(",", ":")) if symbols else None
        params = (
            {"symbols": listed}
            if listed and len(quote(listed)) <= MAX_SYMBOLS_QUERY_CHARS
            else None
        )
        info: dict[str, Any] = self.get("/api/v3/exchangeInfo", params, weight=EXCHANGE_INFO_WEIGHT)
        self.limiter.configure_from_exchange_info(info)
        self._limits_configured = True
        return info

    def _listed(self, symbols: list[str]) -> dict[str, SymbolInfo]:
        """exchangeInfo's entries for ``symbols``: just those, or every symbol when one is unknown."""
        try:
            info = self.exchange_info(symbols)
        except BinanceAPIError as err:
            if err.code != -1121:
                raise
            info = self.exchange_info()  # find out which of them is unknown
        return {
            entry["symbol"]: SymbolInfo(
                entry["symbol"],
                entry["status"],
                entry.get("baseAsset", ""),
                entry.get("quoteAsset", ""),
            )
            for entry in info.get("symbols", [])
        }

    def listed_symbols(self, symbols: list[str]) -> dict[str, SymbolInfo]:
        """What exchangeInfo says about those of ``symbols`` it lists (unknown ones are absent)."""
        wanted = set(symbols)
        return {symbol: info for symbol, info in self._listed(symbols).items() if symbol in wanted}

    def symbol_statuses(self, symbols: list[str]) -> dict[str, str]:
        """Each listed symbol's status ('TRADING', 'HALT', 'BREAK'...); unknown ones are absent."""
        return {symbol: info.status for symbol, info in self.listed_symbols(symbols).items()}

    def validate_symbols(self, symbols: list[str]) -> dict[str, SymbolInfo]:
        """Check that every symbol exists and is TRADING, before any work is done (an unknown
        one is named with the listed symbol it most likely meant)."""
        listed = self._listed(symbols)
        unknown = [s for s in symbols if s not in listed]
        if unknown:
            raise UnknownSymbolError(unknown, self.base_url, list(listed))
        not_trading = {s: listed[s].status for s in symbols if listed[s].status != "TRADING"}
        if not_trading:
            raise SymbolNotTradingError(not_trading)
        return {s: listed[s] for s in symbols}

    # -- klines -----------------------------------------------------------------------------

    def first_open_time_ms(self, symbol: str, interval: str) -> int | None:
        """Open time of the symbol's very first candle (when it started trading), or None."""
        rows = self.get(
            "/api/v3/klines",
            {"symbol": symbol, "interval": interval, "startTime": 0, "limit": 1},
            weight=KLINES_WEIGHT,
        )
        return int(rows[0][0]) if rows else None

    def _klines_window(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Kline]:
        """All candles opening in [start_ms, end_ms]; one request unless the window is irregular."""
        out: list[Kline] = []
        cursor = start_ms
        while cursor <= end_ms:
            rows = self.get(
                "/api/v3/klines",
                {
                    "symbol": symbol,
                    "interval": interval,
                    "startTime": cursor,
                    "endTime": end_ms,
                    "limit": KLINES_MAX_LIMIT,
                },
                weight=KLINES_WEIGHT,
            )
            out.extend(parse_kline_row(row) for row in rows)
            if len(rows) < KLINES_MAX_LIMIT or int(rows[-1][6]) >= end_ms:
                break  # the next candle would open after the window
            cursor = int(rows[-1][6]) + 1  # irregular candles filled the page: continue after them
        return out

    def iter_klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        end_ms: int,
        on_page: Callable[[int], None] | None = None,
    ) -> Iterator[list[Kline]]:
        """Closed candles opening in [start_ms, end_ms), page by page, oldest first.

        The range is cut into windows of 1000 candles fetched ``concurrency`` at a time; pages
        are yielded in order. Windows after the exchange's present are never requested and the
        candle still forming (close time not yet passed) is dropped.
        """
        step = interval_ms(interval)
        if not self._limits_configured:
            self.exchange_info([symbol])
        now_ms = self.server_time_ms()
        end_ms = min(end_ms, now_ms + 1)
        windows = [
            (s, min(s + step * KLINES_MAX_LIMIT, end_ms) - 1)
            for s in range(start_ms, end_ms, step * KLINES_MAX_LIMIT)
        ]
        if not windows:
            return
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="klines")
        try:
            pending = [
                pool.submit(self._klines_window, symbol, interval, s, e)
                for s, e in windows[: self.concurrency * 2]
            ]
            queued = iter(windows[self.concurrency * 2 :])
            while pending:
                page = pending.pop(0).result()
                nxt = next(queued, None)
                if nxt is not None:
                    pending.append(pool.submit(self._klines_window, symbol, interval, *nxt))
                page = [k for k in page if k.close_time < now_ms]
                if on_page is not None:
                    on_page(len(page))
                if page:
                    yield page
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # an error or early stop fetches no more


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def _error_fields(body: bytes) -> tuple[int, str]:
    try:
        data = json.loads(body)
        return int(data.get("code", 0)), str(data.get("msg", ""))
    except (ValueError, AttributeError):
        return 0, body[:200].decode("utf-8", "replace")
