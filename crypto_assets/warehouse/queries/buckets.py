"""Bucket widths that keep a chart under its point budget, on a grid of round steps.

Why round steps: a 7-day chart of 1m candles shown as 6-minute candles reads oddly; 10 minutes
does not. Buckets are aligned with ``date_bin`` on a Monday origin, so weekly buckets start on
Mondays and every width divides the day grid the candle tables use. ``describe`` and ``age``
write widths and durations the way the dashboard and the API show them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

MAX_POINTS = 2_000
"""The most x positions a chart gets (candles, line points or bars)."""

ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday, 00:00 UTC
"""``date_bin`` origin shared by every bucketing query."""

_ROUND_STEPS_S = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14400,
    21600,
    43200,
    86400,
    2 * 86400,
    3 * 86400,
    7 * 86400,
    14 * 86400,
    28 * 86400,
)


def bucket_width(
    start: datetime, end: datetime, finest: timedelta, budget: int = MAX_POINTS
) -> timedelta:
    """The narrowest width, a multiple of ``finest``, that cuts [start, end) into <= ``budget`` buckets.

    Round steps are preferred; past four weeks the width is a whole multiple of ``finest``.
    """
    if finest <= timedelta(0):
        raise ValueError(f"finest bucket width must be positive, got {finest}")
    if budget < 1:
        raise ValueError(f"point budget must be at least 1, got {budget}")
    span = max(end - start, finest)
    if span / finest <= budget:
        return finest
    finest_s = finest.total_seconds()
    for step in _ROUND_STEPS_S:
        if step > finest_s and step % finest_s == 0 and span / timedelta(seconds=step) <= budget:
            return timedelta(seconds=step)
    return finest * math.ceil(span / (finest * budget))


def describe(width: timedelta) -> str:
    """A width for labels: '1m', '15m', '6h', '1d', '7d', '90s'."""
    seconds = int(width.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def age(delta: timedelta | None) -> str:
    """A duration to the most useful unit pair: 42 s, 5 min 3 s, 2 h 10 min, 3 d 4 h."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    for unit, size, small, small_size in (
        ("d", 86400, "h", 3600),
        ("h", 3600, "min", 60),
        ("min", 60, "s", 1),
    ):
        if seconds >= size:
            rest = (seconds % size) // small_size
            return f"{seconds // size} {unit}" + (f" {rest} {small}" if rest else "")
    return f"{seconds} s"
