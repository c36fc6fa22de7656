"""One aggregate run: the (symbol, day range) windows of its partitions and the run's metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from crypto_assets.assets.partitions import day_ranges_by_symbol, day_start
from crypto_assets.binance.wire import datetime_to_ms


@dataclass(frozen=True)
class Window:
    """A symbol's contiguous UTC days [lo, hi) that one run rebuilds."""

    symbol: str
    lo: datetime
    hi: datetime

    @property
    def ms(self) -> tuple[str, int, int]:
        """As ``candle_checks`` windows: (symbol, start ms, end ms)."""
        return self.symbol, datetime_to_ms(self.lo), datetime_to_ms(self.hi)


def partition_windows(partition_keys: Iterable[str]) -> list[Window]:
    """Day x symbol partition keys -> one window per symbol and run of contiguous days."""
    return [
        Window(symbol, day_start(first), day_start(last + timedelta(days=1)))
        for symbol, runs in day_ranges_by_symbol(partition_keys).items()
        for first, last in runs
    ]


def window_metadata(windows: list[Window], rows: int, **extra) -> dict:
    """The metadata every aggregate reports: rows written, symbols and the span rebuilt."""
    return {
        "rows": rows,
        "symbols": ", ".join(sorted({w.symbol for w in windows})),
        "first_day": min(w.lo for w in windows).date().isoformat() if windows else "none",
        "last_day": (max(w.hi for w in windows) - timedelta(days=1)).date().isoformat() if windows else "none",
        **extra,
    }
