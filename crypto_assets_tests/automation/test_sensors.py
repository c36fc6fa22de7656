"""The catch-up sensor's run requests and cursor, evaluated against a real Dagster instance."""

import json
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from crypto_assets.assets.candles_15m import build_candles_15m
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.resources import BinanceResource, WarehouseResource
from crypto_assets.automation.catch_up import CATCH_UP_TAG
from crypto_assets.automation.sensors import build_catch_up_sensor
from crypto_assets.settings import Settings

KEY = dg.AssetKey("candles_15m")
NOW = datetime.now(timezone.utc)
TODAY = NOW.date()


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def materialize(instance, offsets, symbol):
    for offset in offsets:
        instance.report_runless_asset_event(dg.AssetMaterialization(KEY, partition=f"{day(offset)}|{symbol}"))


def evaluate(instance, cursor=None, max_per_run=400, history_days=5):
    settings = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=TODAY - timedelta(days=history_days))
    sensor = build_catch_up_sensor(KEY, settings, max_per_run, now=lambda: NOW)
    return tick(sensor, settings, instance, cursor)


def tick(sensor, settings, instance, cursor=None):
    defs = dg.Definitions(
        assets=[build_candles_15m(day_symbol_partitions(settings))],
        sensors=[sensor],
        resources={"binance": BinanceResource(), "warehouse": WarehouseResource(database_url="postgresql://unused")},
    )
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return sensor.evaluate_tick(context)


def ranges(result):
    return sorted((r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG]) for r in result.run_requests)


def test_nothing_materialized_requests_history_start_through_today_in_one_run(instance):
    result = evaluate(instance)
    assert ranges(result) == [(f"{day(-5)}|BTCUSDT", f"{day(0)}|ETHUSDT")]
    assert result.run_requests[0].asset_selection == [KEY]
    cursor = json.loads(result.cursor)
    assert cursor["requested"] == {"BTCUSDT": [day(-5), day(0)], "ETHUSDT": [day(-5), day(0)]}
    assert cursor["last_tick"] == NOW.isoformat()


def test_requests_every_partition_missing_since_the_last_one_per_symbol(instance):
    materialize(instance, range(-5, 0), "BTCUSDT")  # up to yesterday, written after each day closed
    materialize(instance, range(-5, -2), "ETHUSDT")  # two days behind
    result = evaluate(instance)
    assert ranges(result) == [(f"{day(-2)}|ETHUSDT", f"{day(0)}|ETHUSDT"), (f"{day(0)}|BTCUSDT", f"{day(0)}|BTCUSDT")]
    assert all(r.tags[CATCH_UP_TAG] == "candles_15m_catch_up" for r in result.run_requests)


def test_today_is_refreshed_only_when_its_last_refresh_is_old(instance):
    materialize(instance, range(-5, 1), "BTCUSDT")
    materialize(instance, range(-5, 1), "ETHUSDT")
    result = evaluate(instance)
    assert result.run_requests == [] and "up to date" in result.skip_message
    later = NOW + timedelta(minutes=20)
    settings = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=TODAY - timedelta(days=5))
    sensor = build_catch_up_sensor(KEY, settings, 400, now=lambda: later)
    result = tick(sensor, settings, instance)
    if later.date() == TODAY:  # (near midnight the day rolls over; the other assertion covers it)
        assert ranges(result) == [(f"{day(0)}|BTCUSDT", f"{day(0)}|ETHUSDT")]
    else:
        assert len(result.run_requests) == 1


def test_long_catch_up_is_cut_into_runs_of_the_policy_size(instance):
    result = evaluate(instance, max_per_run=4, history_days=5)  # 6 days x 2 symbols, 4 per run
    assert ranges(result) == [
        (f"{day(-5)}|BTCUSDT", f"{day(-4)}|ETHUSDT"),
        (f"{day(-3)}|BTCUSDT", f"{day(-2)}|ETHUSDT"),
        (f"{day(-1)}|BTCUSDT", f"{day(0)}|ETHUSDT"),
    ]


def test_waits_while_a_catch_up_run_is_in_flight(instance):
    instance.add_run(
        dg.DagsterRun(job_name="__ASSET_JOB", run_id="a" * 36, status=dg.DagsterRunStatus.STARTED, tags={CATCH_UP_TAG: "candles_15m_catch_up"})
    )
    result = evaluate(instance, cursor=json.dumps({"last_tick": "x"}))
    assert result.run_requests == []
    assert "in flight" in result.skip_message
