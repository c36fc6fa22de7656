"""One aggregate run: the (symbol, day range) windows of its partitions and each partition's metadata."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.partition_results import empty_stats, table_stats
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


def aggregate_partition_metadata(
    context: dg.AssetExecutionContext,
    cur: cursor,
    table: str,
    time_column: str,
    windows: list[Window],
    extra: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each partition of the run: its own rows and first/last time in ``table`` (0 rows included)."""
    stats = table_stats(cur, table, time_column, [w.ms for w in windows], extra)
    return {key: stats.get(key, empty_stats(list(extra or {}))) for key in context.partition_keys}
