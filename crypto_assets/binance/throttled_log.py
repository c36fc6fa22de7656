"""A log that says each kind of problem at most once a minute, and how often it happened since.

A collector following 2,000 streams can meet the same fault a thousand times a second (a
broken feed, a database refusing a value); one line per occurrence would drown the log and
cost more CPU than the stream. ``ThrottledLog.warning(reason, ...)`` logs the first
occurrence of a reason, then at most one line per ``every_s`` for it, saying how many were
not logged in between. The counts themselves are kept elsewhere (the heartbeat table).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class ThrottledLog:
    """Logs per reason at most once every ``every_s`` seconds (not thread-safe: one event loop)."""

    def __init__(
        self,
        logger: logging.Logger,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger, self.every_s, self._clock = logger, every_s, clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, reason: str, message: str, *args: object) -> bool:
        """Log ``message % args`` at WARNING unless ``reason`` was logged in the last ``every_s``;
        True when it was logged."""
        return self.log(logging.WARNING, reason, message, *args)

    def error(self, reason: str, message: str, *args: object) -> bool:
        return self.log(logging.ERROR, reason, message, *args)

    def log(self, level: int, reason: str, message: str, *args: object) -> bool:
        now = self._clock()
        if now - self._last.get(reason, float("-inf")) < self.every_s:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return False
        self._last[reason] = now
        suppressed = self._suppressed.pop(reason, 0)
        if suppressed:
            message += f" (and {suppressed} more of this kind since the last such line)"
        self._logger.log(level, message, *args)
        return True
