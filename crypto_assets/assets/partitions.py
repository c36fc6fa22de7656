"""Partitions shared by every per-day, per-symbol asset: UTC day x symbol.

Symbols come from the config (``CRYPTO_CONFIG``), so adding one is a config change, not a code
change. Days run from ``history_start`` through today (today's partition fills during the day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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


def every_partition(
    history_start: date, symbols: Sequence[str], today: date
) -> list[tuple[date, str, str]]:
    """(day, symbol, key) of every partition from ``history_start`` through ``today``.

    The keys are the strings Dagster names these partitions by ('2024-01-01|BTCUSDT': dimensions
    in name order), built directly: asking the partitions definition for 110,000 keys builds as
    many key objects and costs seconds, more than a sensor tick may take.
    """
    days = [history_start + timedelta(days=i) for i in range((today - history_start).days + 1)]
    named = [(day, day.isoformat()) for day in days]  # one date format per day, not per partition
    return [(day, symbol, f"{text}|{symbol}") for day, text in named for symbol in symbols]


def partition_key(day: date, symbol: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DAY: day.strftime(DAY_FORMAT), SYMBOL: symbol})


def split_key(key: str | dg.MultiPartitionKey) -> tuple[date, str]:
    """'2024-01-01|BTCUSDT' -> (date(2024, 1, 1), 'BTCUSDT')."""
    if not isinstance(key, dg.MultiPartitionKey):
        day_text, symbol = str(key).split("|")
        key = dg.MultiPartitionKey({DAY: day_text, SYMBOL: symbol})
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
