"""``read_partition_states`` answers what Dagster's public ``get_status_by_partition`` answers.

Real runs on a Dagster instance in PostgreSQL (the project's storages), through every state a
partition can be in and every way a cached status goes stale: a new materialization, a new
planned one, a run that ends without a new event of the asset, another partitions definition.
Ours is read first each time, so a stale cache it trusted could not have been refreshed by
Dagster's own read before. This test fails the day Dagster's cached status changes meaning.
"""

import shutil
from datetime import date

import dagster as dg
import pytest
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent, DagsterEventType

from crypto_assets.assets.partitions import day_symbol_partitions, partition_keys
from crypto_assets.automation.partition_states import PartitionStates, read_partition_states
from crypto_assets.environment import DAGSTER_YAML, dagster_storage_url
from crypto_assets.settings import Settings
from crypto_assets_tests.plugins.postgres import new_database

KEY = dg.AssetKey("things")
SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2024, 3, 1))
TODAY = date(2024, 3, 4)  # keys asked: 4 days x 2 symbols (the definition runs through today)


def build_asset(partitions_def):
    @dg.asset(name=KEY.path[-1], partitions_def=partitions_def)
    def things(context: dg.AssetExecutionContext):
        if context.run.tags.get("fail"):
            raise RuntimeError("told to fail")

    return things


@pytest.fixture
def instance(tmp_path, pg_server, monkeypatch):
    shutil.copyfile(DAGSTER_YAML, tmp_path / "dagster.yaml")
    url = dagster_storage_url(new_database(pg_server, "dagster_partition_states"))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", url)
    with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
        yield inst


def run(instance, partitions_def, key, *, fail=False):
    result = dg.materialize(
        [build_asset(partitions_def)],
        instance=instance,
        partition_key=key,
        tags={"fail": "yes"} if fail else {},
        raise_on_error=False,
    )
    assert result.success is not fail


def dagsters(instance, partitions_def, settings=SETTINGS) -> PartitionStates:
    keys = partition_keys(dict.fromkeys(settings.symbols, settings.history_start), TODAY)
    status = instance.get_status_by_partition(KEY, keys, partitions_def) or {}
    by = {s: frozenset(k for k, v in status.items() if v == s) for s in dg.AssetPartitionStatus}
    return PartitionStates(
        by[dg.AssetPartitionStatus.IN_PROGRESS],
        by[dg.AssetPartitionStatus.FAILED],
        by[dg.AssetPartitionStatus.MATERIALIZED],
    )


def both(instance, partitions_def, settings=SETTINGS) -> PartitionStates:
    """Ours (read first), after checking Dagster's says the same."""
    ours = read_partition_states(instance, {KEY: partitions_def})[KEY]
    assert ours == dagsters(instance, partitions_def, settings)
    return ours


def test_the_same_as_get_status_by_partition_in_every_state(instance):
    defs = day_symbol_partitions(SETTINGS)
    assert both(instance, defs) == PartitionStates()  # never materialized

    run(instance, defs, "2024-03-01|BTCUSDT")
    run(instance, defs, "2024-03-02|ETHUSDT")
    assert both(instance, defs) == PartitionStates(
        materialized=frozenset({"2024-03-01|BTCUSDT", "2024-03-02|ETHUSDT"})
    )
    assert both(instance, defs).materialized  # read again from a current cache

    run(instance, defs, "2024-03-03|BTCUSDT", fail=True)
    assert both(instance, defs).failed == {"2024-03-03|BTCUSDT"}
    assert both(instance, defs).failed == {"2024-03-03|BTCUSDT"}  # from the current cache

    # A run that planned a partition and is still going: in progress; when it fails (no new
    # event of the asset, only the run's status changes), the partition turns failed.
    going = dg.DagsterRun(
        job_name="__ASSET_JOB", run_id="f" * 36, status=dg.DagsterRunStatus.STARTED
    )
    instance.add_run(going)
    planned = DagsterEvent(
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
        "__ASSET_JOB",
        event_specific_data=AssetMaterializationPlannedData(KEY, partition="2024-03-04|ETHUSDT"),
    )
    instance.report_dagster_event(planned, going.run_id)
    assert both(instance, defs).in_progress == {"2024-03-04|ETHUSDT"}
    instance.report_run_failed(going)
    assert both(instance, defs).failed == {"2024-03-03|BTCUSDT", "2024-03-04|ETHUSDT"}

    run(instance, defs, "2024-03-03|BTCUSDT")  # a failed partition materialized again
    states = both(instance, defs)
    assert states.failed == {"2024-03-04|ETHUSDT"} and "2024-03-03|BTCUSDT" in states.materialized
    assert both(instance, defs) == states  # from the current cache

    fewer = Settings(symbols=("BTCUSDT",), history_start=date(2024, 3, 2))  # another definition
    assert both(instance, day_symbol_partitions(fewer), fewer) == PartitionStates(
        materialized=frozenset({"2024-03-03|BTCUSDT"})
    )


def test_sort_counts_the_materialized_and_names_the_rest_of_the_keys_asked():
    states = PartitionStates(
        in_progress=frozenset({"2024-03-03|BTCUSDT"}),
        failed=frozenset({"2024-03-02|BTCUSDT", "2024-02-01|BTCUSDT"}),  # (a day not asked)
        materialized=frozenset({"2024-03-01|BTCUSDT", "2024-03-01|ETHUSDT", "2023-01-01|XRPUSDT"}),
    )
    keys = set(partition_keys(dict.fromkeys(SETTINGS.symbols, SETTINGS.history_start), TODAY))
    by_status = states.sort(keys)
    assert by_status.materialized == 2
    assert by_status.failed == {"2024-03-02|BTCUSDT"}
    assert by_status.in_progress == {"2024-03-03|BTCUSDT"}
    assert by_status.unknown == {
        "2024-03-04|BTCUSDT",
        "2024-03-02|ETHUSDT",
        "2024-03-03|ETHUSDT",
        "2024-03-04|ETHUSDT",
    }
