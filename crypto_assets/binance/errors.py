"""Exceptions for everything that can go wrong at the exchange edge.

Each one says what failed and what to do, and carries the facts (URL, Binance ``code`` and
``msg``) so callers and Dagster metadata can show them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

SYMBOL_LIKENESS = 0.8
"""How alike two symbols must be to suggest one for the other (ETHUSDC -> ETHUSDT, not NOPEUSDT -> DOGEUSDT)."""


class BinanceError(Exception):
    """Base class of every error raised by the Binance client."""


class BinanceAPIError(BinanceError):
    """Binance answered with an error body: ``{"code": -1121, "msg": "Invalid symbol."}``."""

    def __init__(self, code: int, msg: str, *, status: int, url: str) -> None:
        self.code = code
        self.msg = msg
        self.status = status
        self.url = url
        super().__init__(f"Binance error {code} (HTTP {status}) from {url}: {msg}")


class GeoBlockedError(BinanceAPIError):
    """The base URL refuses this machine's region (HTTP 451/403 'restricted location')."""

    def __init__(self, code: int, msg: str, *, status: int, url: str) -> None:
        super().__init__(code, msg, status=status, url=url)
        self.args = (
            (
                f"{url} refuses requests from this location (HTTP {status}: {msg}). "
                "Set BINANCE_API_URL to a host that serves your region, for example "
                "https://data-api.binance.vision or https://api1.binance.com."
            ),
        )


class IPBannedError(BinanceAPIError):
    """HTTP 418: the IP is banned for ``retry_after`` seconds (for ignoring 429s), longer than
    the ``budget_left_s`` seconds the request had left to retry."""

    def __init__(
        self,
        code: int,
        msg: str,
        *,
        status: int,
        url: str,
        retry_after: float,
        budget_left_s: float,
    ) -> None:
        super().__init__(code, msg, status=status, url=url)
        self.retry_after = retry_after
        until = time.strftime("%H:%M:%S", time.gmtime(time.time() + retry_after))
        self.args = (
            (
                f"Binance banned this IP for {retry_after:.0f} s, until {until} UTC "
                f"(HTTP 418 from {url}: {msg}); that is past the {max(0.0, budget_left_s):.0f} s "
                "left to retry (config key 'rest_retry_seconds'), so this fails now and nothing "
                "more is sent to Binance before the ban ends"
            ),
        )


class BinanceUnavailableError(BinanceError):
    """Binance could not be reached, or kept failing, for the whole retry budget."""

    def __init__(
        self, url: str, attempts: int, cause: str, *, seconds: float, budget_s: float
    ) -> None:
        self.url = url
        self.attempts = attempts
        super().__init__(
            f"Binance at {url} is unreachable or failing after {attempts} attempts over {seconds:.0f} s"
            f" (retry budget {budget_s:.0f} s, config key 'rest_retry_seconds'): {cause}. "
            "Check the network, or point BINANCE_API_URL at a reachable host."
        )


class UnknownSymbolError(BinanceError):
    """Configured symbols that the exchange does not list."""

    def __init__(self, symbols: list[str], url: str, listed: Sequence[str] = ()) -> None:
        from crypto_assets.inputs import closest

        self.symbols = symbols
        named = ", ".join(
            f"{symbol}{closest(symbol, listed, cutoff=SYMBOL_LIKENESS)}" for symbol in symbols
        )
        super().__init__(f"unknown symbol(s) on {url}: {named} (not listed in exchangeInfo)")


class SymbolNotTradingError(BinanceError):
    """Configured symbols that exist but are not in status TRADING."""

    def __init__(self, statuses: dict[str, str]) -> None:
        self.statuses = statuses
        listed = ", ".join(f"{symbol} is {status}" for symbol, status in statuses.items())
        super().__init__(f"symbol(s) not trading: {listed}; remove them from the config")
