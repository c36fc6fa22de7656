"""Numbers and durations as the pages print them."""

from __future__ import annotations

from crypto_assets.warehouse.queries.buckets import age  # noqa: F401 (the pages' duration format, shared with the API)


def price(value: float | None) -> str:
    """A price with as many decimals as its size needs: 64,012.35 / 3.1452 / 0.00001234."""
    if value is None:
        return "—"
    size = abs(value)
    decimals = 2 if size >= 1_000 else 4 if size >= 1 else 8
    return f"{value:,.{decimals}f}"


def count(number: int, noun: str) -> str:
    """'1 window', '2 windows', '12,000 raw samples': ``noun`` is the singular."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
