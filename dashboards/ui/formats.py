"""Numbers and durations as the pages print them."""

from __future__ import annotations

from datetime import timedelta


def price(value: float | None) -> str:
    """A price with as many decimals as its size needs: 64,012.35 / 3.1452 / 0.00001234."""
    if value is None:
        return "—"
    size = abs(value)
    decimals = 2 if size >= 1_000 else 4 if size >= 1 else 8
    return f"{value:,.{decimals}f}"


def age(delta: timedelta | None) -> str:
    """A duration to the most useful unit pair: 42 s, 5 min 3 s, 2 h 10 min, 3 d 4 h."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    for unit, size, small, small_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if seconds >= size:
            rest = (seconds % size) // small_size
            return f"{seconds // size} {unit}" + (f" {rest} {small}" if rest else "")
    return f"{seconds} s"
