"""The candles_1m asset: a day made equal to REST, the stream's equal rows kept, re-runs change nothing.

The simulator's clock is frozen; expected candles are its REST klines over HTTP.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crypto_assets.assets.candle_checks import GAPS
from crypto_assets.assets.candles_1m_checks import COMPLETE, MATCHES_REST
from crypto_assets.settings import Settings
from crypto_assets_tests.assets.helpers import check_results, materialize_range, partition_metadata
from crypto_assets_tests.metadata import json_entry
from crypto_assets_tests.stream.helpers import (
    MINUTE,
    insert_candles,
    minute_of,
    query,
    rest_candles,
    table_candles,
)

DAY_MS = 86_400_000
DAY_START = int(datetime(2025, 3, 10, tzinfo=UTC).timestamp() * 1000)
SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2025, 3, 1))
PARTITION = "2025-03-10|BTCUSDT"


def run(simulator, db_url):
    result = materialize_range("candles_1m", SETTINGS, simulator.url, db_url, PARTITION, PARTITION)
    assert result.success
    return partition_metadata(result)[PARTITION], check_results(result)


def sources(db_url):
    return dict(query(db_url, "SELECT source, count(*) FROM candles_1m GROUP BY 1"))


def test_a_finished_day_becomes_rest_and_the_stream_rows_equal_to_it_stay(simulator, db_url):
    simulator.clock.freeze(DAY_START + DAY_MS + 30 * MINUTE)
    rest = rest_candles(simulator.url, "BTCUSDT", DAY_START, DAY_START + DAY_MS)
    assert len(rest) == 1440
    wrong = list(rest[5])
    wrong[4] = "1.00000000"  # a close the exchange never had
    insert_candles(db_url, "BTCUSDT", rest[:5])  # streamed right
    insert_candles(db_url, "BTCUSDT", [wrong])  # streamed wrong
    insert_candles(
        db_url, "BTCUSDT", [rest[6]], is_closed=False
    )  # never closed (the collector died)

    meta, checks = run(simulator, db_url)

    assert [
        row[:11] for row in table_candles(db_url, "BTCUSDT", DAY_START, DAY_START + DAY_MS)
    ] == rest
    assert (
        meta["rows"],
        meta["rows_from_stream"],
        meta["rows_from_rest"],
        meta["missing_candles"],
    ) == (1440, 5, 1435, 0)
    assert sources(db_url) == {"stream": 5, "rest": 1435}
    assert checks[COMPLETE].passed
    matches = checks[MATCHES_REST]
    assert not matches.passed
    assert (
        matches.metadata["stream_closed_candles"].value,
        matches.metadata["differing"].value,
    ) == (6, 1)
    assert json_entry(matches.metadata, "examples")[0]["open_time"] == "2025-03-10T00:05:00+00:00"

    meta, checks = run(simulator, db_url)  # again: nothing to change, and now the stream agrees
    assert (meta["rows"], meta["rows_from_stream"], meta["rows_from_rest"]) == (1440, 5, 1435)
    assert checks[MATCHES_REST].passed and sources(db_url) == {"stream": 5, "rest": 1435}


def test_an_exchange_outage_is_reported_and_a_stream_row_inside_it_removed(simulator, db_url):
    simulator.clock.freeze(DAY_START + DAY_MS + 30 * MINUTE)
    outage = (DAY_START + 100 * MINUTE, DAY_START + 110 * MINUTE)
    stray = rest_candles(simulator.url, "BTCUSDT", outage[0] + 5 * MINUTE, outage[0] + 6 * MINUTE)
    simulator.faults.update(outages=[list(outage)])
    insert_candles(db_url, "BTCUSDT", stray, is_closed=False)

    meta, checks = run(simulator, db_url)

    assert (
        meta["rows"],
        meta["expected_candles"],
        meta["missing_candles"],
        meta["rows_from_stream"],
    ) == (1430, 1440, 10, 0)
    assert checks[COMPLETE].passed
    assert not checks[GAPS].passed and checks[GAPS].metadata["missing_candles"].value == 10
    assert query(
        db_url,
        "SELECT count(*) FROM candles_1m WHERE open_time >= to_timestamp(%s / 1000.0)"
        " AND open_time < to_timestamp(%s / 1000.0)",
        outage,
    ) == [(0,)]


def test_today_covers_the_closed_minutes_and_leaves_the_forming_one_to_the_stream(
    simulator, db_url
):
    now = DAY_START + 10 * MINUTE + 30_000
    simulator.clock.freeze(now)
    forming = rest_candles(
        simulator.url, "BTCUSDT", DAY_START + 9 * MINUTE, DAY_START + 10 * MINUTE
    )
    forming = [
        (DAY_START + 10 * MINUTE, *forming[0][1:6], DAY_START + 11 * MINUTE - 1, *forming[0][7:])
    ]
    insert_candles(db_url, "BTCUSDT", forming, is_closed=False)

    meta, checks = run(simulator, db_url)

    assert meta["rows"] == 10
    assert (
        now <= meta["rest_now_ms"] < now + 10_000
    )  # the client tracks the exchange's clock from one reading
    assert [
        row[:11] for row in table_candles(db_url, "BTCUSDT", DAY_START, DAY_START + 10 * MINUTE)
    ] == rest_candles(simulator.url, "BTCUSDT", DAY_START, DAY_START + 10 * MINUTE)
    assert table_candles(db_url, "BTCUSDT", DAY_START + 10 * MINUTE, DAY_START + DAY_MS) == [
        (*forming[0], False, "stream")
    ]
    assert checks[COMPLETE].passed and checks[MATCHES_REST].passed


@pytest.mark.parametrize(
    ("now", "partition_start"),
    [
        (DAY_START + 30 * MINUTE + 30_000, DAY_START),  # today's partition, half an hour in
        (DAY_START + DAY_MS + MINUTE + 30_000, DAY_START),  # yesterday's, just after midnight
    ],
    ids=["today", "just-finished-day"],
)
def test_minutes_the_stream_has_and_a_lagging_rest_lacks_are_kept(
    simulator, db_url, now, partition_start
):
    simulator.clock.freeze(now)
    last_closed = minute_of(now)  # exclusive: the minute forming now is the stream's
    streamed = rest_candles(simulator.url, "BTCUSDT", last_closed - 10 * MINUTE, last_closed)
    insert_candles(db_url, "BTCUSDT", streamed)  # the collector wrote the last 10 minutes, closed
    simulator.faults.update(
        rest_lag_ms=4 * MINUTE
    )  # REST lacks the candles opening after now - 4 min
    lacking = [row for row in streamed if row[0] > now - 4 * MINUTE]
    assert [row[0] for row in lacking] == [
        last_closed - 3 * MINUTE,
        last_closed - 2 * MINUTE,
        last_closed - MINUTE,
    ]
    partition_end = min(last_closed, partition_start + DAY_MS)

    meta, checks = run(simulator, db_url)

    held_back = [row for row in lacking if row[0] < partition_end]
    assert meta["minutes_awaiting_rest"] == len(held_back)
    kept = table_candles(db_url, "BTCUSDT", lacking[0][0], partition_end)
    assert [row[:11] for row in kept] == held_back
    assert {(row[11], row[12]) for row in kept} == {(True, "stream")}
    assert checks[GAPS].passed and checks[COMPLETE].passed and checks[MATCHES_REST].passed

    simulator.faults.update(rest_lag_ms=0)  # REST catches up: the next run finds them equal
    meta, checks = run(simulator, db_url)
    assert meta["minutes_awaiting_rest"] == 0 and checks[MATCHES_REST].passed
    assert [
        row[:11] for row in table_candles(db_url, "BTCUSDT", partition_start, partition_end)
    ] == rest_candles(simulator.url, "BTCUSDT", partition_start, partition_end)
