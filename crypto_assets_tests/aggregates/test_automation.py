"""Automation conditions of the aggregates, evaluated against a real Dagster instance."""

import threading
from datetime import UTC, datetime

import dagster as dg
import pytest

from crypto_assets.assets.aggregates import build_aggregates
from crypto_assets.assets.candle_checks import ON_GRID
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.automation.partition_wipe import forget_partitions
from crypto_assets.definitions import build_definitions
from crypto_assets.resources import WarehouseResource
from crypto_assets_tests.aggregates.loading import SETTINGS

NOW = datetime(2024, 9, 6, 12, 7, tzinfo=UTC)  # partitions 2024-09-01 .. 2024-09-06
DAYS = ["2024-09-01", "2024-09-02", "2024-09-03", "2024-09-04", "2024-09-05"]
ROLLUPS = ["candles_1h", "candles_1d", "market_metrics_daily"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def report(instance, asset: str, keys) -> None:
    for key in keys:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=key))


def requested(result) -> dict[str, set[str]]:
    """Partitions requested per asset (checks are left out)."""
    return {
        r.key.to_user_string(): {str(k) for k in r.true_subset.expensively_compute_partition_keys()}
        for r in result.results
        if isinstance(r.key, dg.AssetKey) and r.true_subset.size
    }


def requested_checks(result) -> set[str]:
    return {
        r.key.to_user_string()
        for r in result.results
        if isinstance(r.key, dg.AssetCheckKey) and r.true_subset.size
    }


def every(days=DAYS, symbols=SETTINGS.symbols) -> list[str]:
    return [f"{day}|{symbol}" for day in days for symbol in symbols]


def everything_built(instance):
    """Every day with 1m candles is built through the rollups; then a first evaluation."""
    defs = build_definitions(SETTINGS)
    report(instance, "candles_1m", every())
    for asset in ROLLUPS:
        report(instance, asset, every())
    return defs, dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOW
    )


def test_an_updated_upstream_partition_reruns_exactly_its_dependents(instance):
    defs, first = everything_built(instance)
    assert requested(first) == {}  # everything with upstream data is built; 2024-09-06 has none
    assert requested_checks(first) == set()

    report(instance, "candles_1m", ["2024-09-03|BTCUSDT"])  # e.g. REST repaired a stream gap
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOW, cursor=first.cursor
    )
    assert requested(second) == {
        asset: {"2024-09-03|BTCUSDT"} for asset in ROLLUPS
    }  # one run, in order

    for asset in ROLLUPS:  # that run materializes them
        report(instance, asset, ["2024-09-03|BTCUSDT"])
    third = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOW, cursor=second.cursor
    )
    # the next day's return starts from this day's close, so its metrics follow
    assert requested(third) == {"market_metrics_daily": {"2024-09-04|BTCUSDT"}}
    fourth = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOW, cursor=third.cursor
    )
    assert requested(fourth) == {}


def test_cleared_partitions_are_refilled_when_upstream_data_exists(instance):
    defs, first = everything_built(instance)
    forget_partitions(instance, dg.AssetKey("candles_1h"), ["2024-09-02|ETHUSDT"])
    assert "2024-09-02|ETHUSDT" not in instance.get_materialized_partitions(
        dg.AssetKey("candles_1h")
    )
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOW, cursor=first.cursor
    )
    # the day's candle follows its rebuilt hours in the same run
    assert requested(second) == {
        "candles_1h": {"2024-09-02|ETHUSDT"},
        "candles_1d": {"2024-09-02|ETHUSDT"},
    }


def evaluate(defs, instance, cursor=None):
    return dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=NOW, cursor=cursor
    )


def test_at_the_first_tick_every_partition_with_upstream_data_is_built(instance):
    """A platform whose rollups never ran (the sensor was off) catches up at once."""
    defs = build_definitions(SETTINGS)
    report(instance, "candles_1m", every())
    report(instance, "candles_15m", every(["2024-09-06"], ["BTCUSDT"]))  # an hour source too
    first = evaluate(defs, instance)
    built = set(every()) | {"2024-09-06|BTCUSDT"}
    assert requested(first) == {
        "candles_1h": built,
        "candles_1d": built,  # with its hours, in the same run
    }  # no day candle exists yet: the metrics, whose rows come from them, wait
    report(instance, "candles_1h", built)
    report(instance, "candles_1d", built)
    assert requested(evaluate(defs, instance, first.cursor)) == {"market_metrics_daily": built}


def test_a_new_day_is_rolled_up_through_the_chain_in_one_tick(instance):
    defs = build_definitions(SETTINGS)
    report(instance, "candles_1m", every(DAYS[:-1]))
    for asset in ROLLUPS:
        report(instance, asset, every(DAYS[:-1]))
    first = evaluate(defs, instance)
    assert requested(first) == {}
    report(instance, "candles_1m", every(DAYS[-1:]))  # the daily run brought 2024-09-05
    second = evaluate(defs, instance, first.cursor)
    assert requested(second) == {asset: set(every(DAYS[-1:])) for asset in ROLLUPS}


def test_a_failed_partition_waits_for_its_upstream_to_change(instance):
    defs = build_definitions(SETTINGS)
    report(instance, "candles_1m", ["2024-09-03|BTCUSDT"])
    unreachable = WarehouseResource(database_url="postgresql://nobody@127.0.0.1:9/none")
    [candles_1h] = [
        a
        for a in build_aggregates(day_symbol_partitions(SETTINGS), SETTINGS).assets
        if a.key == dg.AssetKey("candles_1h")
    ]
    failed = dg.materialize(
        [candles_1h],
        partition_key="2024-09-03|BTCUSDT",
        instance=instance,
        resources={"warehouse": unreachable},
        raise_on_error=False,
    )
    assert not failed.success
    first = evaluate(defs, instance)
    second = evaluate(defs, instance, first.cursor)
    assert "candles_1h" not in requested(first) | requested(second)  # not retried every tick
    report(instance, "candles_1m", ["2024-09-03|BTCUSDT"])  # new upstream data
    assert requested(evaluate(defs, instance, second.cursor))["candles_1h"] == {
        "2024-09-03|BTCUSDT"
    }


def test_rollups_wait_until_an_upstream_run_has_finished_writing(instance):
    """A run's partitions appear one by one; its checks come last. Until then nothing is asked."""
    defs = build_definitions(SETTINGS)
    written, release = threading.Event(), threading.Event()

    @dg.asset(
        name="candles_15m",
        partitions_def=day_symbol_partitions(SETTINGS),
        check_specs=[dg.AssetCheckSpec(ON_GRID, asset="candles_15m")],
    )
    def candles_15m_run(context: dg.AssetExecutionContext):
        yield dg.AssetMaterialization(
            "candles_15m", partition=context.partition_key
        )  # written, checks not yet
        written.set()
        release.wait(30)
        yield dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=True)])

    run = threading.Thread(
        target=dg.materialize,
        args=([candles_15m_run],),
        kwargs={"instance": instance, "partition_key": "2024-09-03|BTCUSDT"},
    )
    run.start()
    try:
        assert written.wait(30)
        report(instance, "candles_1m", ["2024-09-06|BTCUSDT"])  # today does not wait
        during = evaluate(defs, instance)
    finally:
        release.set()
        run.join(30)
    today = {"2024-09-06|BTCUSDT"}
    assert requested(during) == {"candles_1h": today, "candles_1d": today}
    assert (
        "2024-09-03|BTCUSDT" in requested(evaluate(defs, instance, during.cursor))["candles_1h"]
    )  # once the run is done


def test_reported_price_samples_rerun_exactly_their_downsampled_partitions(instance):
    defs = build_definitions(SETTINGS)
    selection = dg.AssetSelection.assets("price_downsampled")
    first = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, evaluation_time=NOW
    )
    assert requested(first) == {}  # no samples reported: nothing to build from
    report(
        instance, "price_samples", ["2024-09-06|BTCUSDT", "2024-09-03|ETHUSDT"]
    )  # what the price_samples watch does
    second = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        asset_selection=selection,
        evaluation_time=NOW,
        cursor=first.cursor,
    )
    assert requested(second) == {"price_downsampled": {"2024-09-06|BTCUSDT", "2024-09-03|ETHUSDT"}}


def test_the_conditions_are_evaluated_by_a_sensor_that_runs_by_default():
    repo = build_definitions(SETTINGS).get_repository_def()
    [sensor] = [
        s for s in repo.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)
    ]
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == SETTINGS.automation_interval_seconds
    graph = repo.asset_graph
    with_conditions = {
        k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None
    }
    assert {k.to_user_string() for k in with_conditions} == {*ROLLUPS, "price_downsampled"}
    assert with_conditions <= sensor.asset_selection.resolve(graph)


def test_metrics_wait_for_their_day_candles_not_only_for_the_minutes(instance):
    """A history of minutes whose day candles do not exist yet (an hours run is still going):
    the metrics, whose rows are the day candles', wait instead of materializing empty days."""
    defs = build_definitions(SETTINGS)
    started, release = threading.Event(), threading.Event()

    @dg.asset(name="candles_1h", partitions_def=day_symbol_partitions(SETTINGS))
    def candles_1h_run(context: dg.AssetExecutionContext):
        started.set()
        release.wait(30)
        return dg.MaterializeResult()

    days = ["2024-09-02|BTCUSDT", "2024-09-03|BTCUSDT"]
    report(instance, "candles_1m", days)
    report(instance, "candles_1h", days[:1])
    run = threading.Thread(
        target=dg.materialize,
        args=([candles_1h_run],),
        kwargs={"instance": instance, "partition_key": days[1]},
    )
    run.start()
    try:
        assert started.wait(30)
        during = evaluate(defs, instance)
    finally:
        release.set()
        run.join(30)
    assert "market_metrics_daily" not in requested(during), requested(during)
    report(instance, "candles_1d", days)
    assert requested(evaluate(defs, instance, during.cursor))["market_metrics_daily"] == set(days)
