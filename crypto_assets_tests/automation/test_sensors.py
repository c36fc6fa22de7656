"""The catch-up sensor against a real Dagster instance and the warehouse: every hole, retries, floors."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from crypto_assets.assets.candles_15m import build_candles_15m
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.automation.catch_up import ATTEMPT_TAG, CATCH_UP_TAG
from crypto_assets.automation.run_shapes import RANGE_END_TAG, RANGE_START_TAG
from crypto_assets.automation.sensors import build_catch_up_sensor
from crypto_assets.resources import BinanceResource, WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets_tests.assets.helpers import materialize_range

KEY = dg.AssetKey("candles_15m")
# The tests' materializations are stamped with the real clock, so the sensor's "now" is the real
# time just after them (a fixed noon made today's partition look hours old, and refreshed, before
# noon UTC).
NOW = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
TODAY = NOW.date()
SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=TODAY - timedelta(days=5))


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def materialize(instance, offsets, symbol):
    for offset in offsets:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(KEY, partition=f"{day(offset)}|{symbol}")
        )


def evaluate(instance, db_url, *, at=NOW, max_per_run=400, settings=SETTINGS):
    sensor = build_catch_up_sensor(
        KEY, day_symbol_partitions(settings), settings, max_per_run, now=lambda: at
    )
    resources = {"binance": BinanceResource(), "warehouse": WarehouseResource(database_url=db_url)}
    defs = dg.Definitions(
        assets=[build_candles_15m(day_symbol_partitions(settings))],
        sensors=[sensor],
        resources=resources,
    )
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources=resources)
    return sensor.evaluate_tick(context)


def ranges(result):
    return sorted((r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in result.run_requests)


def test_nothing_materialized_requests_history_start_through_today_in_one_run(instance, db_url):
    result = evaluate(instance, db_url)
    assert ranges(result) == [(f"{day(-5)}|BTCUSDT", f"{day(0)}|ETHUSDT")]
    assert result.run_requests[0].asset_selection == [KEY]
    assert result.run_requests[0].tags[CATCH_UP_TAG] == "candles_15m_catch_up"
    cursor = json.loads(result.cursor)
    assert cursor["missing"] == 12 and cursor["last_tick"] == NOW.isoformat()


def test_a_hole_before_the_latest_day_is_found_and_filled_exactly(instance, db_url):
    materialize(instance, [-5, -4, -2, -1, 0], "BTCUSDT")  # day -3 never ran
    materialize(instance, range(-5, 1), "ETHUSDT")
    result = evaluate(instance, db_url)
    assert ranges(result) == [(f"{day(-3)}|BTCUSDT", f"{day(-3)}|BTCUSDT")]


def test_holes_of_both_symbols_on_different_days_become_separate_exact_runs(instance, db_url):
    materialize(instance, [-5, -3, -2, -1, 0], "BTCUSDT")  # BTCUSDT misses -4
    materialize(instance, [-5, -4, -3, 0], "ETHUSDT")  # ETHUSDT misses -2 and -1
    result = evaluate(instance, db_url)
    assert ranges(result) == sorted(
        [(f"{day(-2)}|ETHUSDT", f"{day(-1)}|ETHUSDT"), (f"{day(-4)}|BTCUSDT", f"{day(-4)}|BTCUSDT")]
    )


def test_today_is_refreshed_only_when_its_last_refresh_is_old(instance, db_url):
    materialize(instance, range(-5, 1), "BTCUSDT")
    materialize(instance, range(-5, 1), "ETHUSDT")
    stamp = datetime.now(UTC)
    result = evaluate(instance, db_url, at=stamp)
    assert result.run_requests == [] and "up to date" in result.skip_message
    later = stamp + timedelta(minutes=20)
    result = evaluate(instance, db_url, at=later, settings=SETTINGS)
    if (
        later.date() == stamp.date()
    ):  # (near midnight the day rolls over and yesterday is refreshed instead)
        assert ranges(result) == [(f"{stamp.date()}|BTCUSDT", f"{stamp.date()}|ETHUSDT")]


def test_long_catch_up_is_cut_into_runs_of_the_policy_size(instance, db_url):
    result = evaluate(instance, db_url, max_per_run=4)  # 6 days x 2 symbols, 4 per run
    assert ranges(result) == [
        (f"{day(-5)}|BTCUSDT", f"{day(-4)}|ETHUSDT"),
        (f"{day(-3)}|BTCUSDT", f"{day(-2)}|ETHUSDT"),
        (f"{day(-1)}|BTCUSDT", f"{day(0)}|ETHUSDT"),
    ]


def test_waits_while_a_catch_up_run_is_in_flight(instance, db_url):
    instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id="a" * 36,
            status=dg.DagsterRunStatus.STARTED,
            tags={CATCH_UP_TAG: "candles_15m_catch_up"},
        )
    )
    result = evaluate(instance, db_url)
    assert result.run_requests == [] and "in flight" in result.skip_message


def retry_rows(db_url):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT symbol, day::text, attempts, next_attempt_at FROM partition_retries ORDER BY 1, 2"
        )
        return cur.fetchall()


def test_failed_partitions_are_retried_with_backoff_and_the_attempts_are_kept(
    instance, db_url, simulator
):
    materialize(instance, range(-5, 1), "BTCUSDT")
    materialize(instance, [-5, -4, -3, -1, 0], "ETHUSDT")
    settings = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=TODAY - timedelta(days=5))
    failed = materialize_range(
        "candles_15m",
        settings,
        simulator.url,
        "postgresql://postgres@127.0.0.1:9/none",
        f"{day(-2)}|ETHUSDT",
        f"{day(-2)}|ETHUSDT",
        instance,
    )
    assert not failed.success  # the database is unreachable: day -2 of ETHUSDT is now FAILED
    first = evaluate(instance, db_url)  # first seen: wait one minute before retrying
    assert (
        first.run_requests == []
        and "1 failed partition(s) wait for their retry" in first.skip_message
    )
    assert [(s, d, n) for s, d, n, _ in retry_rows(db_url)] == [("ETHUSDT", day(-2), 0)]
    second = evaluate(instance, db_url, at=NOW + timedelta(seconds=61))
    assert ranges(second) == [(f"{day(-2)}|ETHUSDT", f"{day(-2)}|ETHUSDT")]
    assert second.run_requests[0].tags[ATTEMPT_TAG] == "1"
    (row,) = retry_rows(db_url)
    assert row[2] == 1 and row[3] == NOW + timedelta(seconds=61) + timedelta(minutes=10)
    assert (
        evaluate(instance, db_url, at=NOW + timedelta(minutes=5)).run_requests == []
    )  # backing off
    third = evaluate(instance, db_url, at=NOW + timedelta(minutes=12))
    assert third.run_requests[0].tags[ATTEMPT_TAG] == "2"
    instance.report_runless_asset_event(
        dg.AssetMaterialization(KEY, partition=f"{day(-2)}|ETHUSDT")
    )
    assert (
        evaluate(instance, db_url).run_requests == [] and retry_rows(db_url) == []
    )  # resolved: forgotten


def test_days_cleared_on_purpose_are_not_refilled(instance, db_url):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO cleared_floors (table_name, symbol, cleared_before) VALUES ('candles_15m', '*', %s)",
            (day(-2),),
        )
        cur.execute(
            "INSERT INTO cleared_floors (table_name, symbol, cleared_before) VALUES ('candles_15m', 'ETHUSDT', %s)",
            (day(-1),),
        )
    result = evaluate(instance, db_url)
    assert ranges(result) == sorted(
        [(f"{day(-1)}|ETHUSDT", f"{day(0)}|ETHUSDT"), (f"{day(-2)}|BTCUSDT", f"{day(0)}|BTCUSDT")]
    )
    assert json.loads(result.cursor)["cleared"] == 3 + 4


def test_latest_materializations_answer_only_for_the_partitions_asked(instance):
    from crypto_assets.automation.catch_up import latest_materializations

    materialize(instance, [-2, -1], "BTCUSDT")
    assert latest_materializations(instance, KEY, []) == {}  # not "every partition"
    assert set(
        latest_materializations(instance, KEY, [f"{day(-1)}|BTCUSDT", f"{day(-1)}|ETHUSDT"])
    ) == {f"{day(-1)}|BTCUSDT"}
