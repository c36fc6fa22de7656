"""The exchange's rules for stream connections, and the counters that enforce them.

Binance's documented values are the defaults: a ping every 20 s, a pong due within a minute,
a connection lives at most 24 h, 5 incoming messages a second per connection (pings, pongs
and subscribe calls all count), 300 connection attempts per 5 minutes per IP, 1024 streams
per connection. Tests shorten them. They run on the wall clock: they are rules about
sockets, unlike the pushes, which follow the simulated market clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class StreamRules:
    """Connection rules of the stream server (seconds of wall time)."""

    ping_interval_s: float = 20.0
    pong_timeout_s: float = 60.0
    max_lifetime_s: float = 24 * 3600.0
    max_incoming_per_s: int = 5
    max_attempts: int = 300
    attempts_window_s: float = 300.0
    max_streams: int = 1024


class AttemptWindow:
    """Connection attempts per client IP over a sliding window (thread-safe)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._lock = threading.Lock()
        self._attempts: dict[str, deque[float]] = {}

    def admit(self, ip: str) -> float:
        """Count an attempt (refused ones count too); 0 when allowed, else seconds until the oldest expires."""
        now = time.monotonic()
        with self._lock:
            attempts = self._attempts.setdefault(ip, deque())
            while attempts and attempts[0] <= now - self.window_s:
                attempts.popleft()
            attempts.append(now)
            if len(attempts) <= self.limit:
                return 0.0
            return attempts[0] + self.window_s - now

    def reset(self) -> None:
        with self._lock:
            self._attempts.clear()


class MessageRate:
    """Incoming messages of one connection in the last second."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._times: deque[float] = deque()

    def exceeded(self) -> bool:
        """Count one message; True when the last second now holds more than ``limit``."""
        now = time.monotonic()
        self._times.append(now)
        while self._times[0] <= now - 1.0:
            self._times.popleft()
        return len(self._times) > self.limit
