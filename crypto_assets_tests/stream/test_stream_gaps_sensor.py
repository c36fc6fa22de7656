"""The candles_1m stream-gaps sensor on a real Dagster instance and a real candles_1m table."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg2
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._core.test_utils import create_run_for_test

from crypto_assets.assets.candles_1m import REST_NOW_KEY, build_freshness_check
from crypto_assets.assets.candles_1m_checks import FRESH
from crypto_assets.automation.catch_up import CATCH_UP_TAG
from crypto_assets.automation.stream_gaps import SENSOR_NAME
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets_tests.stream.helpers import MINUTE, insert_candles, stream_gaps_tick

KEY = dg.AssetKey("candles_1m")
DAY = datetime(2025, 3, 10, tzinfo=UTC)
DAY_MS = int(DAY.timestamp() * 1000)
NOW = DAY + timedelta(
    minutes=10, seconds=45
)  # minutes 00:00 .. 00:09 are due (closed 30 s ago or more)
SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2025, 3, 10))


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def minutes(*indexes: int) -> list[tuple]:
    """Plausible candles for these minutes of the day (values do not matter to the sensor)."""
    return [
        (
            DAY_MS + i * MINUTE,
            "1.0",
            "1.0",
            "1.0",
            "1.0",
            "2.0",
            DAY_MS + (i + 1) * MINUTE - 1,
            "2.0",
            3,
            "1.0",
            "1.0",
        )
        for i in indexes
    ]


def tick(instance, db_url, now=NOW):
    return stream_gaps_tick(instance, SETTINGS, db_url, now)


def requested(result) -> list[tuple[str, str]]:
    return [
        (r.tags[ASSET_PARTITION_RANGE_START_TAG], r.tags[ASSET_PARTITION_RANGE_END_TAG])
        for r in result.run_requests
    ]


def freshness_of(result) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
    assert (evaluation.asset_key, evaluation.check_name) == (KEY, FRESH)
    return evaluation


def test_requests_only_the_partitions_missing_recent_minutes(instance, db_url):
    insert_candles(db_url, "BTCUSDT", minutes(0, 1, 2, 4, 5, 6, 7, 8, 9))  # 00:03 missing
    insert_candles(db_url, "ETHUSDT", minutes(*range(10)))
    insert_candles(db_url, "ETHUSDT", minutes(10), is_closed=False)  # forming: not due yet
    result = tick(instance, db_url)
    assert requested(result) == [("2025-03-10|BTCUSDT", "2025-03-10|BTCUSDT")]
    assert result.run_requests[0].tags[CATCH_UP_TAG] == SENSOR_NAME
    assert json.loads(result.cursor)["missing"] == {"BTCUSDT|2025-03-10": 1}


def test_a_minute_that_never_closed_counts_as_missing(instance, db_url):
    insert_candles(db_url, "BTCUSDT", minutes(*range(9)))
    insert_candles(db_url, "BTCUSDT", minutes(9), is_closed=False)
    insert_candles(db_url, "ETHUSDT", minutes(*range(10)))
    assert requested(tick(instance, db_url)) == [("2025-03-10|BTCUSDT", "2025-03-10|BTCUSDT")]


def test_minutes_missing_before_the_last_rest_read_are_outages_not_asked_again(instance, db_url):
    insert_candles(db_url, "BTCUSDT", minutes(0, 1, 2, 4, 5, 6, 7, 8))  # 00:03 and 00:09 missing
    insert_candles(db_url, "ETHUSDT", minutes(*range(10)))
    read_at = DAY_MS + 8 * MINUTE + 30_000  # a run read REST at 00:08:30: 00:03 is an outage
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            KEY, partition="2025-03-10|BTCUSDT", metadata={REST_NOW_KEY: read_at}
        )
    )
    result = tick(instance, db_url)
    assert requested(result) == [("2025-03-10|BTCUSDT", "2025-03-10|BTCUSDT")]  # for 00:09 only
    assert json.loads(result.cursor)["missing"] == {"BTCUSDT|2025-03-10": 1}
    insert_candles(db_url, "BTCUSDT", minutes(9))
    result = tick(instance, db_url)
    assert result.run_requests == [] and "no recent minute is missing" in result.skip_message


def test_waits_while_one_of_its_runs_is_in_flight(instance, db_url):
    create_run_for_test(
        instance, tags={CATCH_UP_TAG: SENSOR_NAME}, status=dg.DagsterRunStatus.STARTED
    )
    result = tick(instance, db_url)
    assert result.run_requests == [] and "still in flight" in result.skip_message
    assert freshness_of(result).passed  # reported anyway


def test_reports_freshness_while_the_collector_runs(instance, db_url):
    insert_candles(db_url, "BTCUSDT", minutes(*range(10)))
    insert_candles(db_url, "ETHUSDT", minutes(*range(10)))
    idle = freshness_of(tick(instance, db_url, NOW + timedelta(minutes=5)))
    assert (
        idle.passed and idle.metadata["collector_running"].value is False
    )  # no heartbeat: not applicable
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO stream_heartbeats (connection_id, streams, last_message_at) VALUES ('kline_1m-0', 2, now())"
        )
    conn.close()
    assert freshness_of(tick(instance, db_url)).passed  # 00:09 closed 45 s before NOW
    stale = freshness_of(tick(instance, db_url, DAY + timedelta(minutes=12, seconds=1)))
    assert not stale.passed and stale.metadata["stale_symbols"].value == ["BTCUSDT", "ETHUSDT"]


def test_the_freshness_check_also_runs_on_its_own(db_url):
    check = build_freshness_check(KEY, SETTINGS)
    result = check(warehouse=WarehouseResource(database_url=db_url))
    assert isinstance(result, dg.AssetCheckResult)
    assert result.passed and result.metadata["collector_running"].value is False
