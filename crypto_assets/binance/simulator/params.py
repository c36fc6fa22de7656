"""Query parameters read the way Binance reads them, refused with Binance's error bodies.

Every parameter sent must be read by the endpoint (else -1104), none may repeat (-1101),
mandatory ones must be present and non-empty (-1102), values must match the legal pattern
(-1100, the message quoting the pattern as Binance does), and numbers must be in range (-1130).
"""

from __future__ import annotations

import json
import re
from typing import Literal, overload
from urllib.parse import parse_qsl

_SYMBOL = re.compile(r"^[A-Z0-9\-_.]{1,20}$")
_SYMBOL_PATTERN = "^[A-Z0-9-_.]{1,20}$"
_SYMBOLS = re.compile(r'^\[("[A-Z0-9\-_.]{1,20}"(,"[A-Z0-9\-_.]{1,20}")*)?\]$')
_SYMBOLS_PATTERN = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_DIGITS_PATTERN = "^[0-9]{1,20}$"


class ApiError(Exception):
    """A request the exchange refuses: HTTP status and Binance's ``{"code", "msg"}`` body."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status

    def body(self) -> bytes:
        return json.dumps({"code": self.code, "msg": self.msg}, separators=(",", ":")).encode()


def invalid_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


class Params:
    """The query string of one request, tracking which parameters the endpoint read."""

    def __init__(self, query: str) -> None:
        pairs = parse_qsl(query, keep_blank_values=True)
        self._values = dict(pairs)
        self._duplicated = len(self._values) < len(pairs)
        self._read: set[str] = set()

    def start(self) -> None:
        """Refuse a parameter sent twice (-1101), before anything is read."""
        if self._duplicated:
            raise ApiError(-1101, "Duplicate values for a parameter detected.")

    def has(self, name: str) -> bool:
        """Whether ``name`` was sent (without reading it)."""
        return name in self._values

    def _get(self, name: str) -> str | None:
        self._read.add(name)
        value = self._values.get(name)
        return value if value else None

    def mandatory(self, name: str) -> str:
        value = self._get(name)
        if value is None:
            raise ApiError(
                -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        return value

    @overload
    def symbol(self, name: str = "symbol", *, required: Literal[True] = True) -> str: ...
    @overload
    def symbol(self, name: str = "symbol", *, required: bool) -> str | None: ...
    def symbol(self, name: str = "symbol", *, required: bool = True) -> str | None:
        value = self.mandatory(name) if required else self._get(name)
        if value is not None and not _SYMBOL.match(value):
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '{_SYMBOL_PATTERN}'.",
            )
        return value

    def symbols(self, name: str = "symbols") -> list[str] | None:
        """A JSON list of symbols written without spaces, e.g. ``["BTCUSDT","ETHUSDT"]``."""
        value = self._get(name)
        if value is None:
            return None
        if not _SYMBOLS.match(value):
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '{_SYMBOLS_PATTERN}'.",
            )
        names: list[str] = json.loads(value)
        if not names:
            raise ApiError(
                -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        return names

    def integer(self, name: str, *, low: int | None = None, high: int | None = None) -> int | None:
        value = self._get(name)
        if value is None:
            return None
        if not _DIGITS.match(value):
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '{_DIGITS_PATTERN}'.",
            )
        number = int(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise ApiError(-1130, f"Data sent for parameter '{name}' is not valid.")
        return number

    def optional(self, name: str) -> str | None:
        return self._get(name)

    def finish(self) -> None:
        """Refuse parameters the endpoint never read (-1104), as Binance does."""
        unread = set(self._values) - self._read
        if unread:
            raise ApiError(
                -1104,
                f"Not all sent parameters were read; read '{len(self._values) - len(unread)}' parameter(s) "
                f"but was sent '{len(self._values)}'.",
            )
