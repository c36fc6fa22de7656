"""The Dagster instance as ``dagster.yaml`` configures it (``event_storage.py``), on real PostgreSQL:
a ranged run's planned events are written in one batch, and every partition's status and
metadata stay what the UI must show (in progress during the run, then materialized or failed).

These fail the day Dagster stops batching planned events or changes the private storage API
``insert_planned_events`` uses.
"""

import shutil
from datetime import date

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.environment import DAGSTER_YAML, dagster_storage_url
from crypto_assets.event_storage import APPLICATION_NAME, BatchedPostgresEventLogStorage
from crypto_assets.settings import Settings
from crypto_assets_tests.plugins.postgres import new_database
from crypto_assets_tests.stream.helpers import query

PARTITIONS = day_symbol_partitions(
    Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2024, 1, 1))
)
KEY = dg.AssetKey("candles_15m")
RUN_KEYS = [
    f"2024-01-{day:02d}|{symbol}" for day in range(1, 6) for symbol in ("BTCUSDT", "ETHUSDT")
]
PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED


@pytest.fixture
def storage_url(pg_server) -> str:
    return new_database(pg_server, "dagster_events")


@pytest.fixture
def instance(tmp_path, storage_url, monkeypatch):
    shutil.copyfile(DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_storage_url(storage_url))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance


def run(instance, *, fail: bool) -> tuple[dg.ExecuteInProcessResult, dict]:
    """One run over RUN_KEYS (5 days x 2 symbols); returns what the statuses were during it."""
    seen: dict = {}

    @dg.asset(name=KEY.path[0], partitions_def=PARTITIONS)
    def candles(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        seen.update(context.instance.get_status_by_partition(KEY, RUN_KEYS, PARTITIONS))
        for index, key in enumerate(sorted(context.partition_keys)):
            context.add_asset_metadata({"day_rows": index}, partition_key=key)
        if fail:
            raise RuntimeError("the exchange went away")
        return dg.MaterializeResult(metadata={"run_rows": 10})

    result = dg.materialize(
        [candles],
        instance=instance,
        raise_on_error=False,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: RUN_KEYS[0],
            ASSET_PARTITION_RANGE_END_TAG: RUN_KEYS[-1],
        },
    )
    return result, seen


def test_the_project_instance_uses_the_batched_event_log(instance):
    assert isinstance(instance.event_log_storage, BatchedPostgresEventLogStorage)


def test_planned_events_go_in_one_batch_one_per_partition(instance, monkeypatch):
    batches = []
    store_batch = instance.event_log_storage.store_event_batch

    def spy(events):
        batches.append([event.dagster_event_type for event in events])
        store_batch(events)

    monkeypatch.setattr(instance.event_log_storage, "store_event_batch", spy)
    result, seen = run(instance, fail=False)
    assert result.success
    assert [PLANNED] * 10 in batches  # all ten in one batch, not ten round trips
    planned = instance.get_records_for_run(result.run_id, of_type=PLANNED).records
    assert sorted(record.event_log_entry.dagster_event.partition for record in planned) == sorted(
        RUN_KEYS
    )
    assert set(seen.values()) == {dg.AssetPartitionStatus.IN_PROGRESS}
    status = instance.get_status_by_partition(KEY, [*RUN_KEYS, "2024-01-06|BTCUSDT"], PARTITIONS)
    assert {status[key] for key in RUN_KEYS} == {dg.AssetPartitionStatus.MATERIALIZED}
    assert status["2024-01-06|BTCUSDT"] is None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=KEY), limit=20
    ).records
    rows = {r.partition_key: r.asset_materialization.metadata["day_rows"].value for r in records}
    assert rows == {
        key: index for index, key in enumerate(sorted(RUN_KEYS))
    }  # each partition its own metadata
    assert instance.get_latest_materialization_event(KEY).run_id == result.run_id


def event_log_connections(url: str) -> list[tuple[int, str]]:
    """(pid, state) of the event log's connections, as PostgreSQL lists them."""
    return query(
        url,
        "SELECT pid, state FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()",
        (APPLICATION_NAME,),
    )


def test_the_event_log_keeps_one_connection_and_survives_losing_it(instance, storage_url):
    """Dozens of event writes in a run go through one held connection (dagster-postgres alone
    opens one per event and keeps none); a connection the server dropped is replaced."""
    result, _ = run(instance, fail=False)
    assert result.success
    assert len(instance.all_logs(result.run_id)) > 20
    ((pid, state),) = event_log_connections(storage_url)
    assert state == "idle"
    assert query(storage_url, "SELECT pg_terminate_backend(%s, 5000)", (pid,)) == [(True,)]
    # one event alone (a batch that fails is retried event by event; a single one would be lost)
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="probe"))
    assert instance.get_latest_materialization_event(dg.AssetKey("probe")) is not None
    ((replacement, _),) = event_log_connections(storage_url)
    assert replacement != pid


def test_a_failed_ranged_run_marks_each_of_its_partitions_failed(instance):
    result, _ = run(instance, fail=True)
    assert not result.success
    status = instance.get_status_by_partition(KEY, [*RUN_KEYS, "2024-01-06|BTCUSDT"], PARTITIONS)
    assert {status[key] for key in RUN_KEYS} == {dg.AssetPartitionStatus.FAILED}
    assert status["2024-01-06|BTCUSDT"] is None
