"""Binance's public REST endpoints: ping, time, exchangeInfo, ticker/price, klines, uiKlines.

Each endpoint has its request weight (charged before it runs, errors included, as on the
exchange) and answers the body Binance would, or raises ``ApiError`` with Binance's code and
message. Bodies are compact JSON bytes, like the exchange's.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from crypto_assets.binance.simulator.clock import SimClock
from crypto_assets.binance.simulator.faults import SYMBOL_STATUSES, Faults
from crypto_assets.binance.simulator.klines import KlineStore
from crypto_assets.binance.simulator.limits import RateLimiter
from crypto_assets.binance.simulator.params import ApiError, Params, invalid_symbol
from crypto_assets.binance.simulator.symbols import SymbolSpec, exchange_info, units_text
from crypto_assets.binance.wire import INTERVAL_MS, KLINES_MAX_LIMIT

KLINES_DEFAULT_LIMIT = 500
# Every interval Binance serves except "1s" (1s candles are not simulated).
KLINE_INTERVALS = frozenset(INTERVAL_MS) - {"1s"}
_UTC = {"0", "+0", "-0", "00:00", "+00:00", "-00:00", "0:00", "+0:00", "-0:00"}


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class RestApi:
    """The ``/api/v3`` endpoints over one symbol universe, kline store and clock."""

    def __init__(
        self,
        symbols: dict[str, SymbolSpec],
        store: KlineStore,
        clock: SimClock,
        limiter: RateLimiter,
        faults: Faults,
    ) -> None:
        self._symbols, self._store, self._clock = symbols, store, clock
        self._limiter, self._faults = limiter, faults
        self._routes: dict[str, tuple[Callable[[Params], int], Callable[[Params], bytes]]] = {
            "/api/v3/ping": (lambda p: 1, self._ping),
            "/api/v3/time": (lambda p: 1, self._time),
            "/api/v3/exchangeInfo": (lambda p: 20, self._exchange_info),
            "/api/v3/ticker/price": (lambda p: 2 if p.has("symbol") else 4, self._ticker_price),
            "/api/v3/klines": (lambda p: 2, self._klines),
            "/api/v3/uiKlines": (lambda p: 2, self._klines),
        }

    def knows(self, path: str) -> bool:
        return path in self._routes

    def weight(self, path: str, params: Params) -> int:
        """The request weight of a call to ``path`` (a known one)."""
        return self._routes[path][0](params)

    def handle(self, path: str, params: Params) -> bytes:
        """The 200 body of a call to ``path``; raises ``ApiError`` for a request Binance refuses."""
        params.start()
        body = self._routes[path][1](params)
        params.finish()
        return body

    # -- endpoints ---------------------------------------------------------------------------

    def _ping(self, params: Params) -> bytes:
        return b"{}"

    def _time(self, params: Params) -> bytes:
        return _json({"serverTime": self._clock.now_ms()})

    def _spec(self, name: str) -> SymbolSpec:
        spec = self._symbols.get(name)
        if spec is None:
            raise invalid_symbol()
        return spec

    def _chosen(self, params: Params) -> list[SymbolSpec] | None:
        """The symbols named by ``symbol=`` or ``symbols=[..]`` (None when neither was sent)."""
        symbol, symbols = params.symbol(required=False), params.symbols()
        if symbol is not None and symbols is not None:
            raise ApiError(-1128, "Combination of optional parameters invalid.")
        if symbol is not None:
            return [self._spec(symbol)]
        if symbols is not None:
            return [self._spec(name) for name in dict.fromkeys(symbols)]
        return None

    def _exchange_info(self, params: Params) -> bytes:
        chosen = self._chosen(params)
        status = params.optional("symbolStatus")
        params.optional("permissions")
        params.optional("showPermissionSets")
        if status is not None:
            if status not in SYMBOL_STATUSES:
                raise ApiError(-1122, "Invalid symbolStatus.")
            if chosen is not None:
                raise ApiError(-1128, "Combination of optional parameters invalid.")
        specs = chosen if chosen is not None else list(self._symbols.values())
        overrides = self._faults.status_overrides()
        if status is not None:
            specs = [spec for spec in specs if overrides.get(spec.symbol, spec.status) == status]
        info = exchange_info(
            specs,
            server_time_ms=self._clock.now_ms(),
            rate_limits=self._limiter.rate_limits(),
            status_overrides=overrides,
        )
        return _json(info)

    def _ticker_price(self, params: Params) -> bytes:
        chosen = self._chosen(params)
        now, outages = self._clock.now_ms(), self._faults.current.outages
        specs = chosen if chosen is not None else list(self._symbols.values())
        prices = []
        for spec in specs:
            price = self._store.last_price(spec, now=now, outages=outages)
            if price is None:  # not listed yet at the simulated present
                if chosen is not None:
                    raise invalid_symbol()
                continue
            prices.append({"symbol": spec.symbol, "price": units_text(price)})
        return _json(prices[0] if params.has("symbol") else prices)

    def _klines(self, params: Params) -> bytes:
        symbol = params.symbol()
        interval = params.mandatory("interval")
        start = params.integer("startTime")
        end = params.integer("endTime")
        limit = params.integer("limit", low=1, high=KLINES_MAX_LIMIT)
        time_zone = params.optional("timeZone")
        if interval not in KLINE_INTERVALS:
            raise ApiError(-1120, "Invalid interval.")
        spec = self._spec(symbol)
        if time_zone is not None and time_zone not in _UTC:
            raise ApiError(-1130, "Data sent for parameter 'timeZone' is not valid.")
        now, lag = self._clock.now_ms(), self._faults.current.rest_lag_ms
        if lag:  # REST behind the stream: the newest candles have not reached it yet
            end = now - lag if end is None else min(end, now - lag)
        return self._store.klines(
            spec,
            interval,
            start=start,
            end=end,
            limit=KLINES_DEFAULT_LIMIT if limit is None else limit,
            now=now,
            outages=self._faults.current.outages,
        )
