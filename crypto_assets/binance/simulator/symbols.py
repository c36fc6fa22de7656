"""The simulated symbol universe and the ``exchangeInfo`` document that describes it.

The 13 symbols of the recorded 2022 exchangeInfo (10 TRADING, 3 BREAK) keep their recorded
entries (filters, permissions, ...); each also gets a listing instant (no candle opens before
it) and the market parameters its synthetic prices are drawn with. ``extra_symbols=N`` adds
``SYM0001USDT`` .. TRADING symbols for benchmarks that need hundreds of streams.

Every price and quantity inside the simulator is an integer count of 1e-8 (Binance's 8 decimal
places), so sums and comparisons are exact and formatting is integer arithmetic.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

UNIT = 10**8  # 1e-8: one unit of every decimal field on the wire


def decimal_units(text: str) -> int:
    """Binance decimal string ("0.01000000") -> integer count of 1e-8."""
    whole, _, frac = text.partition(".")
    return int(whole) * UNIT + int((frac + "00000000")[:8])


def units_text(units: int) -> str:
    """Integer count of 1e-8 -> Binance's decimal string with 8 places ("0.01000000")."""
    return f"{units // UNIT}.{units % UNIT:08d}"


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class SymbolSpec:
    """One symbol: what exchangeInfo says plus how its synthetic market behaves.

    ``tick`` and ``lot`` are the price and quantity grains in 1e-8 units; ``lot`` is the
    recorded step size, coarsened where needed so that lot x tick >= 1e-8 and every quote
    volume (quantity x price) is itself a whole number of 1e-8. ``ref_price`` is the price
    level on 2024-09-04 (the day of the recorded 1m candles); ``minute_vol`` the standard
    deviation of a 1m log return; ``quote_per_minute`` the mean traded value per minute and
    ``trade_quote`` the mean value of one trade, both in the quote asset.
    """

    symbol: str
    status: str
    listed_ms: int
    tick: int
    lot: int
    ref_price: float
    minute_vol: float
    quote_per_minute: float
    trade_quote: float
    seed: int
    info: dict[str, Any]  # the exchangeInfo entry


# symbol: (listing instant UTC, price on 2024-09-04, 1m volatility, value per minute, value per trade)
_MARKETS = {
    "ETHBTC": ("2017-07-14 04:00", 0.0430, 0.0006, 1.5, 0.01),
    "BNBBTC": ("2017-07-14 04:00", 0.0088, 0.0007, 0.2, 0.002),
    "BTCUSDT": ("2017-08-17 04:00", 57000.0, 0.0007, 400_000.0, 420.0),
    "ETHUSDT": ("2017-08-17 04:00", 2450.0, 0.0009, 200_000.0, 300.0),
    "BNBUSDT": ("2017-11-06 03:00", 500.0, 0.0009, 40_000.0, 150.0),
    "LTCUSDT": ("2017-12-13 03:30", 60.0, 0.0011, 10_000.0, 80.0),
    "ADAUSDT": ("2018-04-17 04:00", 0.33, 0.0012, 15_000.0, 60.0),
    "XRPUSDT": ("2018-05-04 08:00", 0.55, 0.0012, 30_000.0, 90.0),
    "DOGEUSDT": ("2019-07-05 12:00", 0.10, 0.0014, 20_000.0, 70.0),
    "SOLUSDT": ("2020-08-11 06:00", 135.0, 0.0013, 60_000.0, 120.0),
    "BCCBTC": ("2017-08-01 04:00", 0.0080, 0.0012, 0.05, 0.002),
    "HSRBTC": ("2017-08-24 08:00", 0.0006, 0.0015, 0.01, 0.001),
    "OAXETH": ("2017-08-14 06:00", 0.00009, 0.0016, 0.2, 0.01),
}
_EXTRA_LISTED = "2020-01-01 00:00"
_EXTRA_TICK = "0.00010000"
_EXTRA_STEP = "0.01000000"


@cache
def _recorded_exchange_info() -> dict[str, Any]:
    text = (
        resources.files(__package__)
        .joinpath("data/exchangeInfo_spot_2022-12-17_trimmed.json")
        .read_text()
    )
    info: dict[str, Any] = json.loads(text)
    return info


def _seed(symbol: str) -> int:
    return int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "little")


def _filter(info: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(f for f in info["filters"] if f["filterType"] == kind)


def _spec(
    info: dict[str, Any],
    listed: str,
    ref_price: float,
    minute_vol: float,
    per_minute: float,
    per_trade: float,
) -> SymbolSpec:
    tick = decimal_units(_filter(info, "PRICE_FILTER")["tickSize"])
    lot = max(decimal_units(_filter(info, "LOT_SIZE")["stepSize"]), -(-UNIT // tick))
    return SymbolSpec(
        symbol=info["symbol"],
        status=info["status"],
        listed_ms=_ms(listed),
        tick=tick,
        lot=lot,
        ref_price=ref_price,
        minute_vol=minute_vol,
        quote_per_minute=per_minute,
        trade_quote=per_trade,
        seed=_seed(info["symbol"]),
        info=info,
    )


def _extra_info(template: dict[str, Any], index: int) -> dict[str, Any]:
    info = copy.deepcopy(template)
    base = f"SYM{index:04d}"
    info.update(symbol=f"{base}USDT", status="TRADING", baseAsset=base, quoteAsset="USDT")
    _filter(info, "PRICE_FILTER")["tickSize"] = _EXTRA_TICK
    _filter(info, "LOT_SIZE")["stepSize"] = _EXTRA_STEP
    return info


def build_universe(extra_symbols: int = 0) -> dict[str, SymbolSpec]:
    """Every simulated symbol by name: the 13 recorded ones, then ``extra_symbols`` synthetic."""
    recorded = _recorded_exchange_info()["symbols"]
    universe = {info["symbol"]: _spec(info, *_MARKETS[info["symbol"]]) for info in recorded}
    template = next(info for info in recorded if info["symbol"] == "BTCUSDT")
    for index in range(1, extra_symbols + 1):
        info = _extra_info(template, index)
        price = 1.0 + (_seed(info["symbol"]) % 9900) / 100.0  # 1 .. 100 USDT
        universe[info["symbol"]] = _spec(info, _EXTRA_LISTED, price, 0.0012, 5_000.0, 50.0)
    return universe


def exchange_info(
    specs: list[SymbolSpec],
    *,
    server_time_ms: int,
    rate_limits: list[dict[str, Any]],
    status_overrides: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``GET /api/v3/exchangeInfo`` body for these symbols (``status_overrides``: symbol -> status now)."""
    recorded = _recorded_exchange_info()
    overrides = status_overrides or {}
    return {
        "timezone": recorded["timezone"],
        "serverTime": server_time_ms,
        "rateLimits": rate_limits,
        "exchangeFilters": recorded["exchangeFilters"],
        "symbols": [
            {**spec.info, "status": overrides[spec.symbol]}
            if spec.symbol in overrides
            else spec.info
            for spec in specs
        ],
    }
