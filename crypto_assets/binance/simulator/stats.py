"""Counts of what the simulator answered, so tests and benchmarks can assert "zero 429s"."""

from __future__ import annotations

import threading
from collections import Counter

_ALWAYS_SHOWN = (200, 418, 429)


class Stats:
    """Thread-safe API response counts by HTTP status, and the request weight charged.

    ``stats[429]`` (or ``stats["429"]``), ``stats["5xx"]``, ``stats["requests"]`` and
    ``stats["weight"]`` read one count; ``stats["weight /api/v3/klines"]`` the weight charged
    on one endpoint; ``stats["archive_files"]`` and ``stats["archive_bytes"]`` the archive zips
    served whole and their bytes (archive requests are not API requests: no weight, not
    in the counts by status); ``snapshot()`` gives them all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._statuses: Counter[int] = Counter()
            self._weight = 0
            self._endpoint_weight: Counter[str] = Counter()
            self._archive: Counter[str] = Counter()

    def record(self, status: int, weight: int, endpoint: str | None = None) -> None:
        with self._lock:
            self._statuses[status] += 1
            self._weight += weight
            if endpoint is not None and weight:
                self._endpoint_weight[endpoint] += weight

    def record_archive(self, whole_zip: bool, body_bytes: int) -> None:
        """An archive answer: a zip served whole (with its bytes), or anything else."""
        with self._lock:
            self._archive["archive_requests"] += 1
            if whole_zip:
                self._archive["archive_files"] += 1
                self._archive["archive_bytes"] += body_bytes

    def snapshot(self) -> dict[str, int]:
        """``{"requests", "weight", "5xx", "200", "418", "429", ...every other status seen}``."""
        with self._lock:
            statuses = dict.fromkeys(_ALWAYS_SHOWN, 0) | self._statuses
            return {
                "requests": sum(self._statuses.values()),
                "weight": self._weight,
                "5xx": sum(n for status, n in self._statuses.items() if status >= 500),
                **{str(status): n for status, n in sorted(statuses.items())},
                **{
                    f"weight {endpoint}": n for endpoint, n in sorted(self._endpoint_weight.items())
                },
                "archive_requests": self._archive["archive_requests"],
                "archive_files": self._archive["archive_files"],
                "archive_bytes": self._archive["archive_bytes"],
            }

    def __getitem__(self, key: int | str) -> int:
        return self.snapshot().get(str(key), 0)
