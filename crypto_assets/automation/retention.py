"""Storage care: compression of old chunks and retention of the raw ``price_samples``.

What runs depends on the server, detected at run time:

- TimescaleDB, community licence (``timescaledb.license = 'timescale'``): native compression on
  every hypertable for chunks older than ``compress_after_days`` and a retention policy that
  drops ``price_samples`` chunks older than ``price_samples_retention_days``. Both are background
  jobs of TimescaleDB; this module only (re)declares them, idempotently.
- TimescaleDB, Apache edition (``'apache'``, the build installed here): no compression and no
  policies (those are community features), so the daily ``storage_care`` job drops old
  ``price_samples`` chunks itself with ``drop_chunks``.
- Plain PostgreSQL: the same job deletes the old ``price_samples`` rows.

Aggregates (``price_downsampled``, candles) are kept: they are what remains of old raw prices.
(No ``from __future__ import annotations``: Dagster reads the op's context annotation.)
"""

from dataclasses import dataclass

import dagster as dg
from psycopg2.extensions import connection

from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets.warehouse.db import scalar
from crypto_assets.warehouse.schema import HYPERTABLES, has_timescaledb

COMMUNITY, APACHE, PLAIN = "timescaledb-community", "timescaledb-apache", "postgresql"


@dataclass(frozen=True)
class StorageCare:
    """What one pass did, for the run's log and metadata."""

    server: str
    actions: list[str]
    rows_deleted: int = 0
    chunks_dropped: int = 0


def server_kind(conn: connection) -> str:
    """COMMUNITY, APACHE or PLAIN: which storage features this database offers."""
    if not has_timescaledb(conn):
        return PLAIN
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting('timescaledb.license', true)")
        licence = scalar(cur)
    return COMMUNITY if licence == "timescale" else APACHE


def care_for_storage(conn: connection, settings: Settings) -> StorageCare:
    """Apply compression/retention the server's way; idempotent, inside the caller's transaction."""
    kind = server_kind(conn)
    keep = f"{settings.price_samples_retention_days} days"
    with conn.cursor() as cur:
        if kind == COMMUNITY:
            actions = []
            for table, column, _ in HYPERTABLES:
                cur.execute(
                    f"ALTER TABLE {table} SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol',"
                    f" timescaledb.compress_orderby = '{column}')"
                )
                cur.execute(
                    "SELECT add_compression_policy(%s, %s::interval, if_not_exists => true)",
                    (table, f"{settings.compress_after_days} days"),
                )
                actions.append(
                    f"compression policy on {table}: chunks older than {settings.compress_after_days} days"
                )
            cur.execute(
                "SELECT add_retention_policy('price_samples', %s::interval, if_not_exists => true)",
                (keep,),
            )
            actions.append(
                f"retention policy on price_samples: chunks older than {keep} are dropped"
            )
            return StorageCare(kind, actions)
        if kind == APACHE:
            cur.execute(
                "SELECT count(*) FROM drop_chunks('price_samples', older_than => now() - %s::interval)",
                (keep,),
            )
            dropped = scalar(cur)
            return StorageCare(
                kind,
                [
                    f"dropped {dropped} price_samples chunk(s) older than {keep}",
                    "compression skipped: the Apache edition of TimescaleDB has none (community licence needed)",
                ],
                chunks_dropped=dropped,
            )
        cur.execute("DELETE FROM price_samples WHERE sampled_at < now() - %s::interval", (keep,))
        deleted = cur.rowcount
        return StorageCare(
            kind,
            [
                f"deleted {deleted} price_samples row(s) older than {keep}",
                "compression skipped: plain PostgreSQL",
            ],
            rows_deleted=deleted,
        )


def build_storage_care(settings: Settings) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    """The ``storage_care`` job and its daily schedule (02:30 UTC)."""

    @dg.op(name="care_for_storage")
    def care_op(
        context: dg.OpExecutionContext, warehouse: WarehouseResource
    ) -> dg.Output[list[str]]:
        """Compression and retention policies (community licence) or the scheduled fallback."""
        with warehouse.transaction() as conn:
            done = care_for_storage(conn, settings)
        for action in done.actions:
            context.log.info(f"{done.server}: {action}")
        return dg.Output(
            done.actions,
            metadata={
                "server": done.server,
                "actions": dg.MetadataValue.json(done.actions),
                "rows_deleted": done.rows_deleted,
                "chunks_dropped": done.chunks_dropped,
            },
        )

    @dg.job(
        name="storage_care",
        description="Compression and retention of old data, the way the server allows.",
    )
    def storage_care() -> None:
        care_op()

    schedule = dg.ScheduleDefinition(
        name="storage_care_daily",
        job=storage_care,
        cron_schedule="30 2 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return storage_care, schedule
