"""Faults to switch on at run time, from Python (``server.faults.update(...)``) or over HTTP.

Each is a way the real exchange misbehaves and a client must survive:

* ``latency_ms``: every API request waits this long before it is answered;
* ``error_5xx_rate`` / ``fail_next_n``: answer ``error_status`` (503 by default) with Binance's
  -1001 body, at random with this probability (a seeded generator: reproducible after a reset)
  or for the next n requests;
* ``throttle_next_n``: answer 429 with ``Retry-After`` for the next n requests, whatever the
  weight used (a 429 storm); counted by the rate limiter like any 429, so an IP that keeps
  sending before its ``Retry-After`` has passed is banned with a 418, as on the exchange;
* ``reset_next_n``: the next n API requests get no answer: their connection is reset (a TCP
  RST, as from a restarted load balancer), so the client sees "connection reset by peer";
* ``truncate_next_n``: the next n successful responses are cut in half: ``truncate_style``
  ``"close"`` announces the full Content-Length and closes the connection after half the body,
  ``"json"`` sends a complete HTTP response whose JSON body stops in the middle;
* ``outages``: ``[[start_ms, end_ms], ...)``: no candle of any symbol opens in these windows, as
  after a real exchange outage (klines skip them; nothing errors);
* ``geo_block``: every API request is answered 451 with Binance's restricted-location body;
* ``rest_lag_ms``: klines leave out every candle opening in the last ``rest_lag_ms`` (REST behind
  the stream, as in a busy market): the stream has minutes REST does not have yet;
* ``symbol_status``: ``{symbol: status}`` overrides exchangeInfo's status (``BREAK``, ``HALT``,
  ... or back to ``TRADING``); the streams push nothing for a symbol that is not ``TRADING``;
* ``enforce_limits``: off = weight is counted and reported but no 429 or 418 is ever sent;
* ``archive_files``: ``{pattern: fault}`` for archive files whose name matches the glob
  ``pattern`` (``"BTCUSDT-1m-2024-02-*"``): ``"missing"`` (the zip and its .CHECKSUM answer
  404), ``"bad_checksum"`` (the .CHECKSUM holds another sha256), ``"corrupt"`` (the published
  zip is damaged inside, and its .CHECKSUM matches the damaged bytes), ``"truncated"`` (every
  download of the zip announces its full length, sends half and drops the connection);
* ``archive_bytes_per_s``: archive zips trickle out at this many bytes a second (0: at once).
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypeVar

Number = TypeVar("Number", int, float)

_COUNTERS = ("fail_next_n", "throttle_next_n", "reset_next_n", "truncate_next_n")
_TRUNCATE_STYLES = ("close", "json")
SYMBOL_STATUSES = ("TRADING", "HALT", "BREAK", "END_OF_DAY", "CANCEL_ONLY")
ARCHIVE_FAULTS = ("missing", "bad_checksum", "corrupt", "truncated")


@dataclass(frozen=True)
class FaultSettings:
    """The current faults (immutable: ``Faults`` swaps in a new one on every change)."""

    latency_ms: float = 0.0
    error_5xx_rate: float = 0.0
    error_status: int = 503
    fail_next_n: int = 0
    throttle_next_n: int = 0
    reset_next_n: int = 0
    truncate_next_n: int = 0
    truncate_style: str = "close"
    outages: tuple[tuple[int, int], ...] = ()
    geo_block: bool = False
    enforce_limits: bool = True
    rest_lag_ms: int = 0
    symbol_status: tuple[tuple[str, str], ...] = ()
    archive_files: tuple[tuple[str, str], ...] = ()
    archive_bytes_per_s: float = 0.0

    def archive_fault(self, name: str) -> str | None:
        """The fault switched on for the archive file ``name`` (its .CHECKSUM included), if any."""
        for pattern, fault in self.archive_files:
            if fnmatch.fnmatchcase(name, pattern):
                return fault
        return None


def checked_number(
    name: str, value: object, kind: type[Number], low: float, high: float | None = None
) -> Number:
    """``value`` as ``kind`` if it is a finite number in [low, high]; else ValueError naming the fault."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or (kind is int and value != int(value))
    ):
        raise ValueError(
            f"fault {name!r} must be {'an integer' if kind is int else 'a number'}, got {value!r}"
        )
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"fault {name!r} must be {bound}, got {value!r}")
    return kind(value)


def _outages(value: Any) -> tuple[tuple[int, int], ...]:
    try:
        windows = tuple((int(start), int(end)) for start, end in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"fault 'outages' must be a list of [start_ms, end_ms] pairs, got {value!r}"
        ) from None
    for start, end in windows:
        if start >= end:
            raise ValueError(f"outage [{start}, {end}) is empty: start_ms must be < end_ms")
    return windows


def _symbol_status(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(symbol, str) for symbol in value):
        raise ValueError(
            f"fault 'symbol_status' must be an object of symbol: status, got {value!r}"
        )
    bad = {symbol: status for symbol, status in value.items() if status not in SYMBOL_STATUSES}
    if bad:
        raise ValueError(f"fault 'symbol_status': {bad} is not one of {', '.join(SYMBOL_STATUSES)}")
    return tuple(sorted(value.items()))


def _archive_files(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(p, str) for p in value):
        raise ValueError(
            f"fault 'archive_files' must be an object of file name patterns to faults, got {value!r}"
        )
    for pattern, fault in value.items():
        if fault not in ARCHIVE_FAULTS:
            raise ValueError(
                f"archive fault {fault!r} for {pattern!r} is not one of {', '.join(ARCHIVE_FAULTS)}"
            )
    return tuple(value.items())


def _validated(name: str, value: object) -> Any:
    if name == "latency_ms":
        return checked_number(name, value, float, 0)
    if name == "error_5xx_rate":
        return checked_number(name, value, float, 0, 1)
    if name == "error_status":
        return checked_number(name, value, int, 500, 599)
    if name in _COUNTERS:
        return checked_number(name, value, int, 0)
    if name == "truncate_style":
        if value not in _TRUNCATE_STYLES:
            raise ValueError(
                f"fault 'truncate_style' must be one of {', '.join(_TRUNCATE_STYLES)}, got {value!r}"
            )
        return value
    if name == "outages":
        return _outages(value)
    if name == "rest_lag_ms":
        return checked_number(name, value, int, 0)
    if name == "symbol_status":
        return _symbol_status(value)
    if name == "archive_files":
        return _archive_files(value)
    if name == "archive_bytes_per_s":
        return checked_number(name, value, float, 0)
    if not isinstance(value, bool):
        raise ValueError(f"fault {name!r} must be true or false, got {value!r}")
    return value


class Faults:
    """Thread-safe fault switches; requests consume the ``*_next_n`` counters."""

    NAMES = tuple(field.name for field in fields(FaultSettings))

    def __init__(self, *, enforce_limits: bool = True, seed: int = 0) -> None:
        self._defaults = FaultSettings(enforce_limits=enforce_limits)
        self._seed = seed
        self._lock = threading.Lock()
        self.reset()

    @property
    def current(self) -> FaultSettings:
        return self._settings

    def reset(self) -> None:
        """Every fault off, enforcement back to the server's setting, the random draws replayed."""
        with self._lock:
            self._settings = self._defaults
            self._random = random.Random(self._seed)

    def update(self, **changes: object) -> dict[str, Any]:
        """Change some faults (unknown names and bad values raise ValueError); returns the new state."""
        unknown = sorted(set(changes) - set(self.NAMES))
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}: use {', '.join(self.NAMES)}")
        checked = {name: _validated(name, value) for name, value in changes.items()}
        with self._lock:
            self._settings = replace(self._settings, **checked)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state, as ``GET /_sim/faults`` shows it."""
        state = asdict(self._settings)
        state["outages"] = [list(window) for window in self._settings.outages]
        state["symbol_status"] = dict(self._settings.symbol_status)
        state["archive_files"] = dict(self._settings.archive_files)
        return state

    def status_overrides(self) -> dict[str, str]:
        """``symbol_status`` as a dict: the symbols whose exchangeInfo status is not their listed one."""
        return dict(self._settings.symbol_status)

    def take(self, counter: str) -> bool:
        """Consume one of the ``*_next_n`` counters if any is left."""
        with self._lock:
            left = getattr(self._settings, counter)
            if left <= 0:
                return False
            self._settings = replace(self._settings, **{counter: left - 1})
            return True

    def roll_5xx(self) -> bool:
        """Whether this request hits the random 5xx rate."""
        with self._lock:
            rate = self._settings.error_5xx_rate
            return rate > 0 and self._random.random() < rate
