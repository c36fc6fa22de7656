"""Counts of what the simulator answered, so tests and benchmarks can assert "zero 429s"."""

from __future__ import annotations

import threading
from collections import Counter

_ALWAYS_SHOWN = (200, 418, 429)


class Stats:
    """Thread-safe API response counts by HTTP status, and the request weight charged.

    ``stats[429]`` (or ``stats["429"]``), ``stats["5xx"]``, ``stats["requests"]`` and
    ``stats["weight"]`` read one count; ``snapshot()`` gives them all.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._statuses: Counter[int] = Counter()
            self._weight = 0

    def record(self, status: int, weight: int) -> None:
        with self._lock:
            self._statuses[status] += 1
            self._weight += weight

    def snapshot(self) -> dict[str, int]:
        """``{"requests", "weight", "5xx", "200", "418", "429", ...every other status seen}``."""
        with self._lock:
            statuses = dict.fromkeys(_ALWAYS_SHOWN, 0) | self._statuses
            return {
                "requests": sum(self._statuses.values()),
                "weight": self._weight,
                "5xx": sum(n for status, n in self._statuses.items() if status >= 500),
                **{str(status): n for status, n in sorted(statuses.items())},
            }

    def __getitem__(self, key: int | str) -> int:
        return self.snapshot().get(str(key), 0)
