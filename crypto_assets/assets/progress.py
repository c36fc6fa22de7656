"""Progress lines for long materializations: one log line per tenth of the work, with a rate."""

from __future__ import annotations

import time


class ProgressLog:
    """Counts units done and logs '42% (12,000/28,800 candles, 9,100/s)' at each 10% step."""

    def __init__(self, log, total: int, unit: str):
        self._log = log
        self._total = max(total, 1)
        self._unit = unit
        self._done = 0
        self._next_tenth = 1
        self._started = time.monotonic()

    def advance(self, count: int) -> None:
        self._done += count
        tenth = self._done * 10 // self._total
        if tenth >= self._next_tenth:
            self._next_tenth = tenth + 1
            rate = self._done / max(time.monotonic() - self._started, 1e-6)
            self._log.info(
                f"{min(100, self._done * 100 // self._total)}% ({self._done:,}/{self._total:,} {self._unit}, {rate:,.0f}/s)"
            )
