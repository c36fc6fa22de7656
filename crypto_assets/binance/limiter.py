"""Request-weight limiter that keeps an IP below Binance's ``REQUEST_WEIGHT`` limit.

Binance counts weight per IP in fixed windows aligned to the exchange's clock (6000 per minute
today) and reports the IP's running total in ``X-MBX-USED-WEIGHT-1M`` on every response. The
limiter keeps its own count per exchange window:

* it reserves weight before each request and, when the budget (``share`` x limit) of the
  window is spent, waits for the next window, so a 429 never happens in normal use;
* its windows are the exchange's (local clock plus the offset measured from ``/api/v3/time``).
  The offset is only known to within ``clock_error_s``, so a request sent that close to a
  boundary is counted in both windows it may land in, and must fit both budgets;
* the header includes the weight spent by other processes on the same IP, so the count is
  raised to it (plus this process's requests still in flight): several backfills at once
  share one budget. An answer that may belong to either of two windows is not used;
* after a 429/418, it holds every request until the ``Retry-After`` time has passed.

The limit and window come from ``exchangeInfo``'s ``rateLimits`` (``configure_from_exchange_info``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
# How far the local idea of the exchange's clock may be off before it is measured.
UNSYNCED_CLOCK_ERROR_S = 0.25


class WeightLimiter:
    """Thread-safe budget of request weight per exchange window."""

    def __init__(
        self,
        limit: int = 6000,
        window_seconds: float = 60,
        share: float = 0.95,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.offset_s = 0.0  # exchange clock minus local clock
        self.clock_error_s = UNSYNCED_CLOCK_ERROR_S
        self.share = share
        self.configure(limit, window_seconds)
        self._used: dict[int, int] = {}  # exchange window index -> weight believed spent in it
        self._in_flight = 0  # weight of this process's requests sent but not yet answered
        self._blocked_until = 0.0
        self.waited_s = 0.0

    def configure(self, limit: int, window_seconds: float) -> None:
        """Set the exchange's limit; the budget is ``share`` of it."""
        with self._lock:
            self.limit = limit
            self.window_seconds = window_seconds
            self.budget = max(1, math.floor(limit * self.share))

    def configure_from_exchange_info(self, info: dict[str, Any]) -> None:
        """Read the REQUEST_WEIGHT rule of an exchangeInfo body."""
        for rule in info.get("rateLimits", []):
            if rule.get("rateLimitType") == "REQUEST_WEIGHT":
                seconds = _INTERVAL_SECONDS[rule["interval"]] * int(rule.get("intervalNum", 1))
                self.configure(int(rule["limit"]), seconds)
                return

    def sync_clock(self, offset_s: float, error_s: float) -> None:
        """Adopt a measured exchange-clock offset, known to within ``error_s`` seconds."""
        with self._lock:
            self.offset_s = offset_s
            self.clock_error_s = error_s

    def now(self) -> float:
        """The exchange's clock, in epoch seconds, as this machine estimates it."""
        return self._clock() + self.offset_s

    def _window_of(self, instant: float) -> int:
        """Index of the exchange window holding ``instant`` (exchange clock)."""
        return math.floor(instant / self.window_seconds)

    def _windows(self, earliest: float, latest: float) -> range:
        """Windows that an instant between ``earliest`` and ``latest`` may fall in, clock error included."""
        return range(
            self._window_of(earliest - self.clock_error_s),
            self._window_of(latest + self.clock_error_s) + 1,
        )

    def acquire(self, weight: int) -> float:
        """Block until ``weight`` fits the budget of every window it may count in, then reserve it.

        Returns the send time (exchange clock) to hand back to ``settle`` with the answer.
        """
        while True:
            with self._lock:
                now = self.now()
                if now >= self._blocked_until:
                    windows = self._windows(now, now)
                    for stale in [w for w in self._used if w < windows.start]:
                        del self._used[stale]
                    full = [
                        w
                        for w in windows
                        if self._used.get(w, 0) > 0 and self._used[w] + weight > self.budget
                    ]
                    if not full:
                        for w in windows:
                            self._used[w] = self._used.get(w, 0) + weight
                        self._in_flight += weight
                        return now
                    wake = (full[-1] + 1) * self.window_seconds + self.clock_error_s
                else:
                    wake = self._blocked_until
                delay = max(0.001, wake - now)
            self.waited_s += delay
            self._sleep(delay)

    def settle(self, weight: int, sent_at: float, used_weight: int | None) -> None:
        """Take in the answer to a request of ``weight`` reserved at ``sent_at`` (None: no answer).

        ``used_weight`` is the IP's weight from ``X-MBX-USED-WEIGHT-1M``: every process counts,
        so the estimate is raised to it plus this process's requests still in flight. It is only
        used when the request certainly landed in one window.
        """
        with self._lock:
            self._in_flight = max(0, self._in_flight - weight)
            if used_weight is None:
                return
            windows = self._windows(sent_at, self.now())
            if len(windows) == 1:
                window = windows.start
                self._used[window] = max(self._used.get(window, 0), used_weight + self._in_flight)

    def block_for(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429 or 418 with ``Retry-After``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.now() + seconds)

    @property
    def used(self) -> int:
        """Weight this limiter believes is used in the current window."""
        with self._lock:
            return self._used.get(self._window_of(self.now()), 0)
