"""Partitions shared by every per-day, per-symbol asset: UTC day x symbol.

Symbols come from the config (``CRYPTO_CONFIG``), so adding one is a config change, not a code
change. Days run from ``history_start`` through today (today's partition fills during the day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg

from crypto_assets.settings import Settings

DAY = "day"
SYMBOL = "symbol"
DAY_FORMAT = "%Y-%m-%d"


def day_symbol_partitions(settings: Settings) -> dg.MultiPartitionsDefinition:
    """UTC days from ``history_start`` (today included) x configured symbols."""
    return dg.MultiPartitionsDefinition(
        {
            DAY: dg.DailyPartitionsDefinition(
                start_date=settings.history_start.strftime(DAY_FORMAT), timezone="UTC", end_offset=1
            ),
            SYMBOL: dg.StaticPartitionsDefinition(list(settings.symbols)),
        }
    )


def partition_keys(first_days: Mapping[str, date], today: date) -> list[str]:
    """Keys of every partition of each symbol, from its first day (``first_days``, in the
    partitions' symbol order) through ``today``: symbol by symbol, each in day order.

    The keys are the strings Dagster names these partitions by ('2024-01-01|BTCUSDT': dimensions
    in name order), built directly: asking the partitions definition for 110,000 keys builds as
    many key objects and costs seconds, more than a sensor tick may take.
    """
    if not first_days:
        return []
    start = min(first_days.values())
    days = [(start + timedelta(days=i)).isoformat() for i in range((today - start).days + 1)]
    return [
        f"{day}|{symbol}"
        for symbol, first in first_days.items()
        for day in days[max(0, (first - start).days) :]
    ]


def partition_key(day: date, symbol: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DAY: day.strftime(DAY_FORMAT), SYMBOL: symbol})


def split_key(key: str | dg.MultiPartitionKey) -> tuple[date, str]:
    """'2024-01-01|BTCUSDT' -> (date(2024, 1, 1), 'BTCUSDT')."""
    if not isinstance(key, dg.MultiPartitionKey):
        day_text, symbol = key.split("|")
        return date.fromisoformat(day_text), symbol
    dims = key.keys_by_dimension
    return date.fromisoformat(dims[DAY]), dims[SYMBOL]


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def contiguous_days(days: Iterable[date]) -> list[tuple[date, date]]:
    """Days (any order, repeats allowed) -> sorted inclusive runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def day_ranges_by_symbol(keys: Iterable[str]) -> dict[str, list[tuple[date, date]]]:
    """Group partition keys into contiguous inclusive day ranges per symbol."""
    days: dict[str, list[date]] = defaultdict(list)
    for key in keys:
        day, symbol = split_key(key)
        days[symbol].append(day)
    return {symbol: contiguous_days(symbol_days) for symbol, symbol_days in sorted(days.items())}
