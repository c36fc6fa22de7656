"""The Dagster instance's event log: dagster-postgres, with a run's planned events written in bulk.

A ranged run (a backfill's days x symbols) makes Dagster record, per partition, one
"materialization planned" event when the run is created and one materialization when it ends.
Those per-partition records are what the UI's partition status is built from (planned but not
materialized: in progress, or failed when the run failed), so they must stay one per partition.

With ``DAGSTER_EVENT_BATCH_SIZE`` set (dagster pull request #19862) Dagster hands each of these
two groups of events to the storage as one batch. dagster-postgres writes a batch of
materializations with one multi-row INSERT, but a batch of planned events one event at a time:
two new connections and three statements per partition, about 28 ms each on this machine,
which made the planned events most of a backfill's bookkeeping. This storage writes a batch of
planned events the way dagster-postgres writes materializations: one INSERT of every row (each
with its partition), then one update of the asset's record from the last event. The rows are
the ones ``store_event`` would have written, so every reader (partition status, run pages,
sensors) sees the same events.

It also keeps one connection open per process (``hold_a_connection``): dagster-postgres opens a
new one for every event it writes, 5-10 ms each, and a run writes dozens (its start, progress
lines, checks, its end); dagster-webserver swaps in its own pool as before.

Configured in ``dagster.yaml`` as the instance's ``event_log_storage``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_postgres import PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, pg_url_from_config

if TYPE_CHECKING:  # the type of the instance's config record, for the annotation only
    from dagster._serdes import ConfigurableClassData

PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED


class BatchedPostgresEventLogStorage(PostgresEventLogStorage):
    """``PostgresEventLogStorage`` that stores a batch of planned materializations in bulk."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> BatchedPostgresEventLogStorage:
        storage = cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
        )
        hold_a_connection(storage)
        return storage

    def store_event_batch(self, events: Sequence[dg.EventLogEntry]) -> None:
        planned = [event for event in events if event.dagster_event_type == PLANNED]
        if len(planned) < 2:
            super().store_event_batch(events)
            return
        insert_planned_events(self, planned)
        for event in events:
            if event.dagster_event_type != PLANNED:
                self.store_event(event)


APPLICATION_NAME = "dagster-event-log"
"""How the event log's connections show in ``pg_stat_activity``."""


def hold_a_connection(storage: PostgresEventLogStorage) -> None:
    """Give ``storage`` an engine that keeps one connection for the next write instead of
    dagster-postgres's ``NullPool`` (a new connection per event). Each checkout pings it first,
    so a restarted server costs a reconnect, not a failed write; threads writing at once get
    extra connections, closed when returned.

    Reaches into dagster-postgres's storage (its engine and token provider attributes);
    ``crypto_assets_tests/test_event_storage.py`` fails if they change.
    """
    storage._engine = create_pg_engine(
        storage.postgres_url,
        storage._token_provider,
        isolation_level="AUTOCOMMIT",
        pool_size=1,
        max_overflow=16,
        pool_pre_ping=True,
        pool_recycle=3600,
        connect_args={"application_name": APPLICATION_NAME},
    )


def insert_planned_events(
    storage: PostgresEventLogStorage, events: Sequence[dg.EventLogEntry]
) -> None:
    """Write planned-materialization events in one INSERT and update each asset's record once.

    The one place that reaches into Dagster's private storage API (the event table, its row for
    an event, and the asset-record update that ``store_event`` runs for each event);
    ``crypto_assets_tests/test_event_storage.py`` fails if either changes.
    """
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

    table = SqlEventLogStorageTable
    rows = [storage._event_to_row(event) for event in events]
    with storage._connect() as conn:  # one statement compiled once, sent as multi-row INSERTs
        result = conn.execute(
            table.insert().returning(table.c.id, sort_by_parameter_order=True), rows
        )
        event_ids = [int(row[0]) for row in result.fetchall()]
    last_by_asset: dict[str, tuple[dg.EventLogEntry, int]] = {}
    for event, event_id in zip(events, event_ids, strict=True):
        asset_key = event.dagster_event.asset_key if event.dagster_event else None
        if asset_key is not None:  # a planned materialization always names its asset
            last_by_asset[asset_key.to_string()] = (event, event_id)
    with storage.index_transaction() as conn:
        for event, event_id in last_by_asset.values():
            storage._store_asset_event(conn, event, event_id)
