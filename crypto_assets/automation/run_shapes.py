"""Turn any set of day x symbol partitions into the fewest runs that cover exactly that set.

Dagster runs a ranged run over a *rectangle*: every day between the range's first and last day
times every symbol between its first and last symbol, in the order of the partitions
definition (the config's order), not in the order a user typed them. So a run covers exactly
the requested partitions only when its symbols are adjacent in that order and all share the
same contiguous days. ``exact_runs`` groups a set into such rectangles (never a superset, never
a subset) and cuts them to the asset's ``max_partitions_per_run``; every part of the product that
builds runs (CLI, sensors, schedules) goes through it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from crypto_assets.assets.partitions import DAY_FORMAT, contiguous_days, partition_key

# Dagster's run tags for a ranged run (dagster/_core/storage/tags.py; pinned by a test).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class DayRange:
    """One run: inclusive days x a block of symbols adjacent in the partitions' symbol order."""

    first_day: date
    last_day: date
    symbols: tuple[str, ...]

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def partitions(self) -> int:
        return self.days * len(self.symbols)

    def keys(self) -> set[tuple[date, str]]:
        return {
            (self.first_day + timedelta(days=i), s) for i in range(self.days) for s in self.symbols
        }


def exact_runs(
    wanted: Iterable[tuple[date, str]], symbol_order: Sequence[str], max_partitions: int
) -> list[DayRange]:
    """Rectangles covering exactly ``wanted`` (day, symbol) pairs, each of at most ``max_partitions``.

    Symbols with the same run of days are merged when they are adjacent in ``symbol_order``;
    a block wider than ``max_partitions`` is split, and long day runs are cut into pieces.
    """
    position = {symbol: i for i, symbol in enumerate(symbol_order)}
    days_by_symbol: dict[str, list[date]] = defaultdict(list)
    for day, symbol in wanted:
        if symbol not in position:
            raise ValueError(
                f"symbol {symbol!r} is not one of the partitions' symbols ({', '.join(symbol_order)})"
            )
        days_by_symbol[symbol].append(day)
    symbols_by_days: dict[tuple[date, date], list[str]] = defaultdict(list)
    for symbol in sorted(days_by_symbol, key=position.__getitem__):
        for run in contiguous_days(days_by_symbol[symbol]):
            symbols_by_days[run].append(symbol)
    runs: list[DayRange] = []
    for (first, last), symbols in symbols_by_days.items():
        for block in _adjacent_blocks(symbols, position, max_partitions):
            days_per_run = max(1, max_partitions // len(block))
            day = first
            while day <= last:
                end = min(last, day + timedelta(days=days_per_run - 1))
                runs.append(DayRange(day, end, tuple(block)))
                day = end + timedelta(days=1)
    return sorted(runs, key=lambda r: (r.first_day, position[r.symbols[0]]))


def _adjacent_blocks(
    symbols: list[str], position: dict[str, int], max_width: int
) -> list[list[str]]:
    """Split symbols (in partition order) into blocks of neighbours, at most ``max_width`` wide."""
    blocks: list[list[str]] = []
    for symbol in symbols:
        block = blocks[-1] if blocks else None
        if block and position[block[-1]] + 1 == position[symbol] and len(block) < max_width:
            block.append(symbol)
        else:
            blocks.append([symbol])
    return blocks


def range_tags(days: DayRange) -> dict[str, str]:
    """The run tags that make Dagster run exactly this rectangle."""
    return {
        RANGE_START_TAG: str(partition_key(days.first_day, days.symbols[0])),
        RANGE_END_TAG: str(partition_key(days.last_day, days.symbols[-1])),
    }


def run_request(
    asset_key: dg.AssetKey, days: DayRange, tags: dict[str, str] | None = None
) -> dg.RunRequest:
    """A run of ``asset_key`` over one rectangle of partitions."""
    return dg.RunRequest(asset_selection=[asset_key], tags={**(tags or {}), **range_tags(days)})


def describe(days: DayRange) -> str:
    """'2024-01-01..2024-01-31 BTCUSDT,ETHUSDT' for progress lines."""
    span = days.first_day.strftime(DAY_FORMAT)
    if days.last_day != days.first_day:
        span += f"..{days.last_day.strftime(DAY_FORMAT)}"
    return f"{span} {','.join(days.symbols)}"
