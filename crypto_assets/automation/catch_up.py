"""Find the day x symbol partitions of an asset that need a run, from the instance's records.

A partition needs a run when it was never materialized after the symbol's last materialized
day, or when its last materialization happened before the day was over (today's partition,
refreshed as it fills, and yesterday's, finalised once it has ended).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Sequence

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from crypto_assets.assets.partitions import DAY_FORMAT, day_start, partition_key, split_key


CATCH_UP_TAG = "crypto/catch-up"  # tags a sensor's runs with the sensor's name


def run_in_flight(instance: dg.DagsterInstance, sensor_name: str) -> str | None:
    """Id of a run ``sensor_name`` requested that has not finished (the sensor waits for it)."""
    records = instance.get_run_records(
        dg.RunsFilter(statuses=list(NOT_FINISHED_STATUSES), tags={CATCH_UP_TAG: sensor_name}), limit=1
    )
    return records[0].dagster_run.run_id if records else None


@dataclass(frozen=True)
class DayRange:
    """Inclusive days for a contiguous block of symbols (one run)."""

    first_day: date
    last_day: date
    symbols: tuple[str, ...]

    @property
    def partitions(self) -> int:
        return ((self.last_day - self.first_day).days + 1) * len(self.symbols)


def last_materialized_days(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> dict[str, date]:
    """Per symbol, the latest day that has a materialization."""
    latest: dict[str, date] = {}
    for key in instance.get_materialized_partitions(asset_key):
        day, symbol = split_key(key)
        if symbol not in latest or day > latest[symbol]:
            latest[symbol] = day
    return latest


def materialized_at(instance: dg.DagsterInstance, asset_key: dg.AssetKey, day: date, symbol: str) -> datetime | None:
    """When the partition was last materialized (UTC), or None."""
    key = str(partition_key(day, symbol))
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
    ).records
    if not records:
        return None
    return datetime.fromtimestamp(records[0].timestamp, tz=timezone.utc)


def days_to_run(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    symbols: Sequence[str],
    history_start: date,
    now: datetime,
    today_refresh: timedelta,
) -> dict[str, tuple[date, date]]:
    """Per symbol, the inclusive day range that needs a run (symbols up to date are left out)."""
    today = now.date()
    latest = last_materialized_days(instance, asset_key)
    wanted: dict[str, tuple[date, date]] = {}
    for symbol in symbols:
        last = latest.get(symbol)
        if last is None:
            wanted[symbol] = (history_start, today)
            continue
        stamp = materialized_at(instance, asset_key, last, symbol)
        day_over = day_start(last + timedelta(days=1))
        if stamp is not None and stamp >= day_over:
            first = last + timedelta(days=1)  # the last day is final
        elif last == today and stamp is not None and now - stamp < today_refresh:
            continue  # today's partition was refreshed recently
        else:
            first = last  # it was written before its day ended: refresh it
        if first <= today:
            wanted[symbol] = (first, today)
    return wanted


def group_ranges(wanted: dict[str, tuple[date, date]], symbols: Sequence[str], max_partitions: int) -> list[DayRange]:
    """Merge symbols with the same days (adjacent in config order) and cut to ``max_partitions`` per run."""
    by_days: dict[tuple[date, date], list[list[str]]] = defaultdict(list)
    previous_days = None
    for symbol in symbols:
        days = wanted.get(symbol)
        if days is None:
            previous_days = None
            continue
        if days == previous_days:
            by_days[days][-1].append(symbol)
        else:
            by_days[days].append([symbol])
        previous_days = days
    ranges: list[DayRange] = []
    for (first, last), blocks in by_days.items():
        for block in blocks:
            days_per_run = max(1, max_partitions // len(block))
            day = first
            while day <= last:
                end = min(last, day + timedelta(days=days_per_run - 1))
                ranges.append(DayRange(day, end, tuple(block)))
                day = end + timedelta(days=1)
    return sorted(ranges, key=lambda r: (r.first_day, r.symbols))


def run_request(asset_key: dg.AssetKey, days: DayRange, tags: dict[str, str] | None = None) -> dg.RunRequest:
    """A run for a rectangle of partitions: days x a contiguous block of symbols."""
    start = f"{days.first_day.strftime(DAY_FORMAT)}|{days.symbols[0]}"
    end = f"{days.last_day.strftime(DAY_FORMAT)}|{days.symbols[-1]}"
    return dg.RunRequest(
        asset_selection=[asset_key],
        tags={**(tags or {}), ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end},
    )
