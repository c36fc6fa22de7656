"""Dagster's partition status of several assets at once, as sets of partition keys.

``instance.get_status_by_partition`` (the public way) answers one asset at a time with one
entry per partition key asked, and refreshes the asset's cached status first: at 110,000
partitions an asset that costs about 0.3 s (a dozen queries, each on a new connection, and the
whole cached subset sorted and serialized again to compare it with the stored one), plus a
dictionary entry per key, which the caller then walks again key by key. The catch-up sensors
and ``crypto audit`` only need the three sets (in progress, failed, materialized) to count and
subtract, so ``read_partition_states`` reads every asset's record in one query and uses the
cached status stored in it when that is current, refreshing it as Dagster does otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dagster as dg


@dataclass(frozen=True)
class KeysByStatus:
    """Some partition keys sorted by their status: materialized ones counted, the others named."""

    materialized: int
    failed: AbstractSet[str]
    in_progress: AbstractSet[str]
    unknown: AbstractSet[str]  # no status: never materialized, or wiped


@dataclass(frozen=True)
class PartitionStates:
    """One asset's partitions that Dagster reports in progress, failed or materialized (keys as
    Dagster names them). Disjoint, with ``get_status_by_partition``'s precedence: a partition in
    progress is only that, a failed one is not also materialized. Any other key has no status."""

    in_progress: AbstractSet[str] = frozenset()
    failed: AbstractSet[str] = frozenset()
    materialized: AbstractSet[str] = frozenset()

    def sort(self, keys: AbstractSet[str]) -> KeysByStatus:
        """``keys`` by status, in one pass over them (the materialized set is the large one: it
        is counted, never copied)."""
        not_materialized = keys - self.materialized
        failed = keys & self.failed
        in_progress = keys & self.in_progress
        return KeysByStatus(
            materialized=len(keys) - len(not_materialized),
            failed=failed,
            in_progress=in_progress,
            unknown=not_materialized - failed - in_progress,
        )


def read_partition_states(
    instance: dg.DagsterInstance, partitions_defs: Mapping[dg.AssetKey, dg.PartitionsDefinition]
) -> dict[dg.AssetKey, PartitionStates]:
    """Each asset's ``PartitionStates``, the same as ``instance.get_status_by_partition`` would
    report (a test compares them in every state a partition can be in).

    Dagster's cached status (``AssetStatusCacheValue``) has no public reader other than
    ``get_status_by_partition``, hence the private imports, kept in this one function. A cached
    value is current when it was built for this partitions definition, after the asset's latest
    materialization and latest planned materialization, with no run in progress (a run's end
    changes its partitions' status without a new event of the asset); otherwise it is refreshed
    with the function ``get_status_by_partition`` itself calls, which also stores it (the stale
    ones in threads, as Dagster's sensor daemon shares one instance between its threads).
    """
    from dagster._core.storage.partition_status_cache import (
        get_and_update_asset_status_cache_value,
    )

    records = {
        record.asset_entry.asset_key: record.asset_entry
        for record in instance.get_asset_records(list(partitions_defs))
    }
    # never materialized nor planned: no partition has a status
    # Dagster's AssetStatusCacheValue (private: typed Any here), None when nothing has a status
    cached: dict[dg.AssetKey, Any] = {key: None for key in partitions_defs if key not in records}
    recorded = [key for key in partitions_defs if key in records]
    # side by side: these are mostly waits for the database
    with ThreadPoolExecutor(max_workers=max(1, len(recorded))) as pool:
        planned = dict(
            zip(
                recorded,
                pool.map(instance.get_latest_planned_materialization_info, recorded),
                strict=True,
            )
        )
        stale = []
        for asset_key in recorded:
            entry, value = records[asset_key], records[asset_key].cached_status
            planned_info = planned[asset_key]
            latest_planned = planned_info.storage_id if planned_info else 0
            if (
                value is not None
                and value.partitions_def_id
                == partitions_defs[asset_key].get_serializable_unique_identifier()
                and value.earliest_in_progress_materialization_event_id is None
                and value.latest_storage_id
                >= max(entry.last_materialization_storage_id or 0, latest_planned)
            ):
                cached[asset_key] = value
            else:
                stale.append(asset_key)
        refreshed = pool.map(
            lambda key: get_and_update_asset_status_cache_value(
                instance, key, partitions_defs[key]
            ),
            stale,
        )
        cached.update(zip(stale, refreshed, strict=True))
    return {key: _states(cached[key], partitions_defs[key]) for key in partitions_defs}


def _states(cached: Any, partitions_def: dg.PartitionsDefinition) -> PartitionStates:
    """The three sets of a cached status (``AssetStatusCacheValue``, None: nothing yet)."""
    if cached is None:
        return PartitionStates()
    in_progress = cached.deserialize_in_progress_partition_subsets(partitions_def)
    failed = cached.deserialize_failed_partition_subsets(partitions_def)
    materialized = cached.deserialize_materialized_partition_subsets(partitions_def)
    in_progress_keys = frozenset(in_progress.get_partition_keys())
    failed_keys = frozenset(failed.get_partition_keys()) - in_progress_keys
    materialized_keys = materialized.get_partition_keys()  # ~110,000 keys: copied only if need be
    if not isinstance(materialized_keys, AbstractSet):
        materialized_keys = frozenset(materialized_keys)
    if in_progress_keys or failed_keys:
        materialized_keys = materialized_keys - in_progress_keys - failed_keys
    return PartitionStates(in_progress_keys, failed_keys, materialized_keys)
