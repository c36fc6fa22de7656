"""Progress lines for long materializations: one log line per tenth of the work, with rate and ETA."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date

import dagster as dg


class ProgressLog:
    """Counts units done and logs, at each 10% step, a line like
    '42% (12,000/28,800 candles, 9,100/s, ETA 2 s; archive 3 files, 8.1 MB; days: 8 archive)'.

    ``detail`` (optional) is asked for the text after the semicolon on each line, e.g. the
    kline source's files and bytes fetched so far. Thread-safe (symbols load at once).
    """

    def __init__(
        self,
        log: logging.Logger | dg.DagsterLogManager,
        total: int,
        unit: str,
        detail: Callable[[], str] | None = None,
    ) -> None:
        self._log = log
        self._total = max(total, 1)
        self._unit = unit
        self._detail = detail
        self._done = 0
        self._next_tenth = 1
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, count: int) -> None:
        with self._lock:
            self._done += count
            done, tenth = self._done, self._done * 10 // self._total
            if tenth < self._next_tenth:
                return
            self._next_tenth = tenth + 1
        rate = done / max(time.monotonic() - self._started, 1e-6)
        eta = max(0, self._total - done) / rate if rate else 0.0
        detail = f"; {self._detail()}" if self._detail is not None else ""
        self._log.info(
            f"{min(100, done * 100 // self._total)}% ({done:,}/{self._total:,} {self._unit}, "
            f"{rate:,.0f}/s, ETA {eta:,.0f} s{detail})"
        )


def expected_candles(ranges: dict[str, list[tuple[date, date]]], step_ms: int) -> int:
    """Candles in whole days of every symbol's inclusive day ranges: a progress total."""
    days = sum((last - first).days + 1 for runs in ranges.values() for first, last in runs)
    return days * (86_400_000 // step_ms)
