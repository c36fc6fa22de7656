"""When a stream connection may (re)connect: jittered backoff and the exchange's attempt budget.

* ``Backoff``: "full jitter" exponential backoff: after n failures in a row, wait a random time
  in [0, min(cap, base x 2^n)]. Random spreads many collectors (or connections) apart after a
  shared outage; the cap bounds how stale the stream can get. Reset once a connection works.
* ``ConnectionBudget``: Binance allows 300 connection attempts per 5 minutes per IP; every
  connection of the process takes an attempt from this shared sliding window first, and waits
  when it is spent instead of earning a ban.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable

# binance-api.md, WebSocket market streams: "300 connection attempts per 5 minutes per IP".
MAX_ATTEMPTS = 300
ATTEMPT_WINDOW_S = 300.0


class Backoff:
    """Delays before reconnecting: random in [0, min(cap_s, base_s x 2^failures)]."""

    def __init__(
        self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None
    ) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError(
                f"backoff needs 0 < base_s <= cap_s, got base_s={base_s}, cap_s={cap_s}"
            )
        self.base_s, self.cap_s = base_s, cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The wait before the next attempt; each call counts one more failure."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        """A connection worked: the next failure starts from ``base_s`` again."""
        self.failures = 0


class ConnectionBudget:
    """At most ``limit`` connection attempts per ``window_s`` seconds, shared by one process."""

    def __init__(
        self,
        limit: int = MAX_ATTEMPTS,
        window_s: float = ATTEMPT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window_s = limit, window_s
        self._clock = clock
        self._attempts: deque[float] = deque()

    def wait_s(self) -> float:
        """Seconds until an attempt is allowed (0: now)."""
        now = self._clock()
        while self._attempts and self._attempts[0] <= now - self.window_s:
            self._attempts.popleft()
        return 0.0 if len(self._attempts) < self.limit else self._attempts[0] + self.window_s - now

    def take(self) -> None:
        """Record an attempt (call only when ``wait_s()`` is 0)."""
        self._attempts.append(self._clock())

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait for an attempt and take it; False if ``stop`` was set first."""
        while (wait := self.wait_s()) > 0:
            if await wait_or_stop(stop, wait):
                return False
        self.take()
        return True


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
