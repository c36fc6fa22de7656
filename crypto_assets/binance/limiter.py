"""Request-weight limiter that keeps an IP below Binance's ``REQUEST_WEIGHT`` limit.

Binance counts weight per IP in fixed, clock-aligned windows (6000 per minute today) and reports
the IP's running total in ``X-MBX-USED-WEIGHT-1M`` on every response. The limiter:

* reserves weight before each request and waits for the next window when the budget
  (``share`` x limit) is spent, so a 429 never happens in normal use;
* raises its estimate to whatever the header reports, which includes the weight spent by other
  processes on the same IP: several backfills at once share one budget;
* after a 429/418, holds every request until the ``Retry-After`` time has passed.

The limit and window come from ``exchangeInfo``'s ``rateLimits`` (``configure_from_exchange_info``).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
# A window is taken to have started this long after its boundary, to absorb clock skew between
# this machine and the exchange (requests sent at the very edge would count in the old window).
_BOUNDARY_MARGIN_S = 0.25


class WeightLimiter:
    """Thread-safe budget of request weight per clock-aligned window."""

    def __init__(
        self,
        limit: int = 6000,
        window_seconds: float = 60,
        share: float = 0.95,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._lock = threading.Condition()
        self._clock = clock
        self._sleep = sleep
        self.offset_s = 0.0  # exchange clock minus local clock
        self.share = share
        self.configure(limit, window_seconds)
        self._window = -1
        self._used = 0
        self._blocked_until = 0.0
        self.waited_s = 0.0

    def configure(self, limit: int, window_seconds: float) -> None:
        """Set the exchange's limit; the budget is ``share`` of it."""
        with self._lock:
            self.limit = limit
            self.window_seconds = window_seconds
            self.budget = max(1, math.floor(limit * self.share))

    def configure_from_exchange_info(self, info: dict) -> None:
        """Read the REQUEST_WEIGHT rule of an exchangeInfo body."""
        for rule in info.get("rateLimits", []):
            if rule.get("rateLimitType") == "REQUEST_WEIGHT":
                seconds = _INTERVAL_SECONDS[rule["interval"]] * int(rule.get("intervalNum", 1))
                self.configure(int(rule["limit"]), seconds)
                return

    def _now(self) -> float:
        return self._clock() + self.offset_s

    def _window_of(self, now: float) -> int:
        return math.floor((now - _BOUNDARY_MARGIN_S) / self.window_seconds)

    def acquire(self, weight: int) -> None:
        """Block until ``weight`` fits in the current window's budget, then reserve it."""
        while True:
            with self._lock:
                now = self._now()
                if now >= self._blocked_until:
                    window = self._window_of(now)
                    if window != self._window:
                        self._window, self._used = window, 0
                    if self._used + weight <= self.budget or self._used == 0:
                        self._used += weight
                        return
                    wake = (window + 1) * self.window_seconds + _BOUNDARY_MARGIN_S
                else:
                    wake = self._blocked_until
                delay = max(0.001, wake - now)
            self.waited_s += delay
            self._sleep(delay)

    def observe(self, used_weight: int | None, sent_at: float | None = None) -> None:
        """Take in the IP's used weight from ``X-MBX-USED-WEIGHT-1M``.

        The header counts every process on the IP, so the estimate only ever goes up within a
        window. ``sent_at`` (local clock) ignores answers to requests of an earlier window.
        """
        if used_weight is None:
            return
        with self._lock:
            if sent_at is not None and self._window_of(sent_at + self.offset_s) != self._window:
                return
            if used_weight > self._used:
                self._used = used_weight

    def block_for(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429 or 418 with ``Retry-After``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._now() + seconds)

    @property
    def used(self) -> int:
        """Weight this limiter believes is used in the current window."""
        with self._lock:
            return self._used
