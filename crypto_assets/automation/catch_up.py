"""Which day x symbol partitions of an asset need a run, from Dagster's partition status.

Every partition in ``[history_start, today]`` of every symbol is looked at, not only the days
after the latest one, so a hole anywhere is found:

- never materialized (or wiped): run it;
- failed: retry it with backoff (1 min, 10 min, 1 h, then daily; see ``catch_up_state``);
- materialized, but today's more than ``today_refresh`` ago (when given), or yesterday's before
  the day was over: run it again so the day ends complete;
- in progress, or below the table's cleared floor (``crypto clear --before``): leave it.

A day the exchange has no candles for materializes with 0 rows and a gap warning, so it is
materialized like any other and never retried forever.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from crypto_assets.assets.partitions import partition_key, partition_keys, split_key
from crypto_assets.automation.partition_states import read_partition_states
from crypto_assets.warehouse.catch_up_state import Retry, backoff_after, first_refill_days

CATCH_UP_TAG = "crypto/catch-up"  # tags a sensor's runs with the sensor's name
ATTEMPT_TAG = "crypto/attempt"  # on retry runs: which retry of their partitions this is
NOT_FINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

Partition = tuple[date, str]  # (UTC day, symbol)


def run_in_flight(instance: dg.DagsterInstance, sensor_name: str) -> str | None:
    """Id of a run ``sensor_name`` requested that has not finished (the sensor waits for it)."""
    records = instance.get_run_records(
        dg.RunsFilter(statuses=NOT_FINISHED, tags={CATCH_UP_TAG: sensor_name}), limit=1
    )
    return records[0].dagster_run.run_id if records else None


def latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: Iterable[str]
) -> dict[str, dg.EventLogRecord]:
    """Each partition's latest materialization record (two queries, however many partitions);
    only the asked ``keys`` (the storage may answer with more)."""
    wanted = set(keys)
    if not wanted:  # (an empty filter means every partition to the storage)
        return {}
    ids = instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, wanted
    )
    ids = {key: storage_id for key, storage_id in ids.items() if key in wanted}
    if not ids:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=list(ids.values())), limit=len(ids)
    ).records
    return {record.partition_key: record for record in records if record.partition_key in wanted}


@dataclass
class CatchUpPlan:
    """What one sensor tick found, and the retry state to store after it."""

    missing: list[Partition] = field(default_factory=list)
    refresh: list[Partition] = field(default_factory=list)
    retry_due: dict[int, list[Partition]] = field(
        default_factory=dict
    )  # attempt number -> partitions
    retry_waiting: dict[Partition, Retry] = field(default_factory=dict)
    in_progress: int = 0
    cleared: int = 0
    retries_changed: dict[Partition, Retry] = field(default_factory=dict)
    retries_resolved: list[Partition] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        """For the sensor's cursor: counts, and each waiting retry with its attempts and time."""
        return {
            "missing": len(self.missing),
            "refresh": len(self.refresh),
            "retrying": {n: len(p) for n, p in sorted(self.retry_due.items())},
            "in_progress": self.in_progress,
            "cleared": self.cleared,
            "waiting_retries": {
                str(partition_key(d, s)): {
                    "attempts": r.attempts,
                    "next_attempt_at": r.next_attempt_at.isoformat(),
                }
                for (d, s), r in sorted(self.retry_waiting.items())[:200]
            },
        }


def plan_catch_up(
    instance: dg.DagsterInstance,
    asset_key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition,
    symbols: Sequence[str],
    history_start: date,
    *,
    now: datetime,
    today_refresh: timedelta | None,
    floors: dict[str, date],
    retry_state: dict[Partition, Retry],
) -> CatchUpPlan:
    """Sort every partition up to today into the plan's buckets (see the module docstring).

    Done on sets of partition keys (the partitions' status read as sets, see
    ``read_partition_states``): only the partitions that need something become (day, symbol)
    pairs, so a tick over 110,000 partitions builds no object per partition."""
    today = now.date()
    first_day = first_refill_days(floors, symbols, history_start)
    keys = set(partition_keys(first_day, today))  # every partition the sensor keeps filled
    state = read_partition_states(instance, {asset_key: partitions_def})[asset_key]
    plan = CatchUpPlan()
    plan.cleared = sum(
        (min(first, today + timedelta(days=1)) - history_start).days for first in first_day.values()
    )
    by_status = state.sort(keys)
    plan.missing = [split_key(key) for key in by_status.unknown]
    plan.in_progress = len(by_status.in_progress)
    failed = by_status.failed
    for key in sorted(failed):
        partition = split_key(key)
        _schedule_retry(plan, partition, retry_state.get(partition), now)
    plan.retries_resolved = [
        (day, symbol)
        for day, symbol in retry_state
        if f"{day}|{symbol}" in keys and f"{day}|{symbol}" not in failed
    ]
    recent = (
        {f"{day}|{symbol}" for day in (today - timedelta(days=1), today) for symbol in symbols}
        & keys
        & state.materialized
    )
    for key, record in latest_materializations(instance, asset_key, recent).items():
        day, symbol = split_key(key)
        stamp = datetime.fromtimestamp(record.timestamp, tz=UTC)
        if day == today:
            stale = today_refresh is not None and now - stamp >= today_refresh
        else:  # yesterday, written before it was over
            stale = stamp < datetime.combine(today, datetime.min.time(), UTC)
        if stale:
            plan.refresh.append((day, symbol))
    return plan


def _schedule_retry(
    plan: CatchUpPlan, partition: Partition, retry: Retry | None, now: datetime
) -> None:
    """A failed partition: first seen -> wait the first backoff; due -> retry and back off further."""
    if retry is None:
        retry = Retry(attempts=0, next_attempt_at=now + backoff_after(0))
        plan.retries_changed[partition] = retry
    if now < retry.next_attempt_at:
        plan.retry_waiting[partition] = retry
        return
    attempt = retry.attempts + 1
    plan.retry_due.setdefault(attempt, []).append(partition)
    plan.retries_changed[partition] = Retry(
        attempts=attempt, next_attempt_at=now + backoff_after(attempt)
    )


def all_wanted(plan: CatchUpPlan) -> Sequence[Partition]:
    """Partitions to run now that are not retries (missing ones and refreshes)."""
    return [*plan.missing, *plan.refresh]
