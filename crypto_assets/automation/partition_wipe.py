"""Make the Dagster instance forget that some partitions of an asset were materialized.

Dagster 1.13 has ``instance.wipe_asset_partitions``, but its open-source SQL event logs
(SQLite and PostgreSQL) raise ``NotImplementedError``: only whole assets can be wiped there. So
``forget_partitions`` does what that method does in storages that support it: it deletes the
partitions' asset events (materializations, planned and failed ones, with their tags) from the
instance's event-log index, drops the asset's cached partition status so it is recomputed, and
records an ``ASSET_WIPED`` event naming the partitions. Afterwards the instance reports them as
missing, and the catch-up sensors and automation conditions fill them again.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.events import AssetWipedData, DagsterEvent, DagsterEventType
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
from dagster._core.storage.event_log.schema import AssetEventTagsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

_FORGOTTEN_EVENTS = [
    DagsterEventType.ASSET_MATERIALIZATION.value,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
    DagsterEventType.ASSET_FAILED_TO_MATERIALIZE.value,
]
_BATCH = 500  # partition keys per DELETE statement


def forget_partitions(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_keys: Sequence[str]
) -> int:
    """Delete the partitions' asset events; returns how many events were deleted."""
    keys = sorted(set(partition_keys))
    if not keys:
        return 0
    storage = instance.event_log_storage
    table = SqlEventLogStorageTable
    deleted = 0
    if not isinstance(storage, SqlEventLogStorage):
        raise TypeError(f"forget_partitions needs a SQL event log, not {type(storage).__name__}")
    with storage.index_connection() as conn:
        for start in range(0, len(keys), _BATCH):
            events = (
                table.select()
                .with_only_columns(table.c.id)
                .where(
                    table.c.asset_key == asset_key.to_string(),
                    table.c.partition.in_(keys[start : start + _BATCH]),
                    table.c.dagster_event_type.in_(_FORGOTTEN_EVENTS),
                )
            )
            conn.execute(
                AssetEventTagsTable.delete().where(
                    AssetEventTagsTable.c.event_id.in_(events.scalar_subquery())
                )
            )
            deleted += conn.execute(
                table.delete().where(table.c.id.in_(events.scalar_subquery()))
            ).rowcount
    instance.wipe_asset_cached_status([asset_key])
    instance.report_dagster_event(
        DagsterEvent(
            event_type_value=DagsterEventType.ASSET_WIPED.value,
            event_specific_data=AssetWipedData(asset_key=asset_key, partition_keys=keys),
            job_name=RUNLESS_JOB_NAME,
        ),
        run_id=RUNLESS_RUN_ID,
    )
    return deleted
