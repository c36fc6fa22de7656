"""Per-IP rate limits the way Binance enforces them: weight, 429, then a 418 ban.

Two rules, each counted per client IP in fixed windows aligned to the epoch (a 60 s window
starts on every whole minute): ``REQUEST_WEIGHT`` (the endpoint's weight, 6000 per minute by
default) and ``RAW_REQUESTS`` (one per request, 300,000 per 5 minutes). A request that takes
a count past its limit is answered 429 with ``Retry-After`` = seconds until the window ends;
its weight still counts, as on the exchange. An IP that keeps sending after its first 429 in
a window (more than ``ban_after`` further requests) is banned: 418 with ``Retry-After`` for the
ban, 2 minutes the first time (``first_ban_s``: tests shorten it), doubling per ban up to 3 days;
``bans_started()`` counts the bans since the last reset. With enforcement off the counts (and
the ``X-MBX-USED-WEIGHT-*`` header) still move but nothing is refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

RAW_REQUESTS_LIMIT = 300_000
RAW_REQUESTS_WINDOW_S = 300
FIRST_BAN_S = 120
LONGEST_BAN_S = 3 * 86_400
_UNITS = [("DAY", "D", 86_400), ("HOUR", "H", 3_600), ("MINUTE", "M", 60), ("SECOND", "S", 1)]


def _interval(seconds: int) -> tuple[str, str, int]:
    """Window length -> (exchangeInfo interval, header letter, intervalNum), e.g. 60 -> MINUTE, M, 1."""
    for name, letter, length in _UNITS:
        if seconds % length == 0:
            return name, letter, seconds // length
    raise ValueError(f"window of {seconds} s is not a whole number of seconds")


@dataclass(frozen=True)
class Verdict:
    """What the limiter decided for one request."""

    status: int  # 200 = go ahead, 429 = over the limit, 418 = banned
    used_weight: int  # the IP's weight in the current window, this request included
    retry_after_s: int = 0
    banned_until_ms: int = 0


@dataclass
class _Client:
    window: int = -1
    weight: int = 0
    raw_window: int = -1
    raw: int = 0
    rejected: int = 0  # requests answered 429 in the current window
    bans: int = 0
    banned_until_ms: int = 0


class RateLimiter:
    """Thread-safe weight and request counts per client IP."""

    def __init__(
        self,
        weight_limit: int = 6000,
        window_seconds: int = 60,
        *,
        ban_after: int = 5,
        first_ban_s: int = FIRST_BAN_S,
    ) -> None:
        if weight_limit < 1 or window_seconds < 1 or first_ban_s < 1:
            raise ValueError(
                "weight_limit, window_seconds and first_ban_s must be >= 1, got "
                f"{weight_limit}, {window_seconds} and {first_ban_s}"
            )
        self.weight_limit = weight_limit
        self.first_ban_s = first_ban_s
        self.window_ms = int(window_seconds) * 1000
        self.ban_after = ban_after
        name, letter, count = _interval(int(window_seconds))
        self.interval, self.interval_num = name, count
        self.header = f"X-MBX-USED-WEIGHT-{count}{letter}"
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    def rate_limits(self) -> list[dict[str, Any]]:
        """The ``rateLimits`` entries of exchangeInfo for these rules."""
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": self.interval,
                "intervalNum": self.interval_num,
                "limit": self.weight_limit,
            },
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": RAW_REQUESTS_WINDOW_S // 60,
                "limit": RAW_REQUESTS_LIMIT,
            },
        ]

    def reset(self) -> None:
        """Forget every count and ban."""
        with self._lock:
            self._clients.clear()

    def bans_started(self) -> int:
        """How many bans (a 418 that starts one) were imposed since the last reset, every IP's."""
        with self._lock:
            return sum(client.bans for client in self._clients.values())

    def seconds_left(self, now_ms: int) -> int:
        """Whole seconds (at least 1) until the weight window holding ``now_ms`` ends."""
        window_end = (now_ms // self.window_ms + 1) * self.window_ms
        return max(1, -(-(window_end - now_ms) // 1000))

    def used_weight(self, ip: str, now_ms: int) -> int:
        """Weight the IP has used in the window holding ``now_ms``."""
        with self._lock:
            client = self._clients.get(ip)
            return client.weight if client and client.window == now_ms // self.window_ms else 0

    def admit(self, ip: str, weight: int, now_ms: int, *, enforce: bool = True) -> Verdict:
        """Count one request of ``weight`` from ``ip`` and say whether it may be served."""
        with self._lock:
            client = self._client(ip, now_ms)
            if enforce and client.banned_until_ms > now_ms:
                return self._banned(client, now_ms)
            raw_window = now_ms // (RAW_REQUESTS_WINDOW_S * 1000)
            if client.raw_window != raw_window:
                client.raw_window, client.raw = raw_window, 0
            client.weight += weight
            client.raw += 1
            if not enforce:
                return Verdict(200, client.weight)
            if client.weight <= self.weight_limit and client.raw <= RAW_REQUESTS_LIMIT:
                return Verdict(200, client.weight)
            if client.weight > self.weight_limit:
                return self._reject(client, now_ms, self.seconds_left(now_ms))
            raw_end = (raw_window + 1) * RAW_REQUESTS_WINDOW_S * 1000
            return self._reject(client, now_ms, max(1, -(-(raw_end - now_ms) // 1000)))

    def refuse(self, ip: str, now_ms: int, *, enforce: bool = True) -> Verdict:
        """A 429 the exchange sends whatever the weight (the simulator's throttle fault), counted
        like any other: a banned IP still gets its 418, and one that keeps sending before its
        ``Retry-After`` has passed is banned (with ``enforce``)."""
        with self._lock:
            client = self._client(ip, now_ms)
            if not enforce:
                return Verdict(429, client.weight, self.seconds_left(now_ms))
            if client.banned_until_ms > now_ms:
                return self._banned(client, now_ms)
            return self._reject(client, now_ms, self.seconds_left(now_ms))

    def _client(self, ip: str, now_ms: int) -> _Client:
        """The IP's counts, moved to the window holding ``now_ms`` (caller holds the lock)."""
        client = self._clients.setdefault(ip, _Client())
        window = now_ms // self.window_ms
        if client.window != window:
            client.window, client.weight, client.rejected = window, 0, 0
        return client

    def _banned(self, client: _Client, now_ms: int) -> Verdict:
        return Verdict(
            418,
            client.weight,
            -(-(client.banned_until_ms - now_ms) // 1000),
            client.banned_until_ms,
        )

    def _reject(self, client: _Client, now_ms: int, retry_after_s: int) -> Verdict:
        """A 429 with ``retry_after_s``, or the start of a ban once the IP has ignored ``ban_after``
        of them in this window (caller holds the lock)."""
        client.rejected += 1
        if client.rejected > self.ban_after + 1:
            client.bans += 1
            ban_s = min(self.first_ban_s * 2 ** (client.bans - 1), LONGEST_BAN_S)
            client.banned_until_ms = now_ms + ban_s * 1000
            return Verdict(418, client.weight, ban_s, client.banned_until_ms)
        return Verdict(429, client.weight, retry_after_s)
