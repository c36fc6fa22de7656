"""Symbols coming and going without a restart, and writes no message or row can poison.

The simulator's market clock runs 60x (a minute a second). Expected candles are its REST klines
over HTTP. Tests that change the schema (a constraint, a renamed table) run on a database of
their own.
"""

from __future__ import annotations

import logging

import pytest

from crypto_assets.binance.wire import ms_to_datetime
from crypto_assets_tests.plugins.postgres import new_database
from crypto_assets_tests.stream.helpers import (
    MINUTE,
    SYMBOLS,
    CollectorThread,
    assert_a_sample_every_2s,
    assert_once_and_equal_to_rest,
    closed_minutes,
    execute,
    minute_of,
    query,
    rest_candles,
    table_candles,
    wait_until,
)


@pytest.fixture
def own_db(pg_server):
    """A migrated database of the test's own, to change its schema freely."""
    return new_database(pg_server, "crypto_stream_schema", migrate=True)


def heartbeat(db_url: str) -> tuple:
    """(streams, not_streaming, dropped) of the only connection."""
    rows = query(db_url, "SELECT streams, not_streaming, dropped FROM stream_heartbeats")
    return rows[0] if len(rows) == 1 else ()


def next_closed(db_url, simulator, symbols) -> int:
    """The next minute to open; waits until it is closed for each of ``symbols``."""
    minute = minute_of(simulator.clock.now_ms()) + MINUTE
    wait_until(
        lambda: all(closed_minutes(db_url, s, minute, minute + MINUTE) for s in symbols),
        f"{symbols} streaming",
    )
    return minute


def test_symbols_leave_and_return_to_trading_without_a_restart(
    stream_simulator, db_url, collector, caplog
):
    stream_simulator.faults.update(
        symbol_status={"SOLUSDT": "HALT"}
    )  # not trading when the collector starts
    with caplog.at_level(logging.WARNING, logger="crypto_assets.stream.collector"):
        collector(symbols_check_interval_s=0.2)
    assert "not streaming SOLUSDT (HALT)" in caplog.text
    wait_until(
        lambda: heartbeat(db_url) == (2, {"SOLUSDT": "HALT"}, {}),
        "SOLUSDT reported as not streaming",
    )
    next_closed(db_url, stream_simulator, ["BTCUSDT", "ETHUSDT"])
    assert query(db_url, "SELECT count(*) FROM candles_1m WHERE symbol = 'SOLUSDT'") == [(0,)]

    stream_simulator.faults.update(
        symbol_status={"ETHUSDT": "BREAK"}
    )  # ETHUSDT leaves, SOLUSDT returns
    wait_until(
        lambda: heartbeat(db_url) == (2, {"ETHUSDT": "BREAK"}, {}),
        "ETHUSDT reported, SOLUSDT streaming",
    )
    back = next_closed(db_url, stream_simulator, ["BTCUSDT", "SOLUSDT"])
    assert query(
        db_url,
        "SELECT count(*) FROM candles_1m WHERE symbol = 'ETHUSDT' AND open_time >= to_timestamp(%s / 1000.0)",
        (back,),
    ) == [(0,)]
    assert (
        stream_simulator.streams.subscribed_streams() == 2
    )  # ETHUSDT unsubscribed, SOLUSDT subscribed
    counts = stream_simulator.streams.stats
    assert (counts["status_101"], counts["requests_refused"]) == (1, 0) and counts[
        "requests"
    ] >= 2  # no reconnect
    # Every REST call was an exchangeInfo read (weight 20): the start and the checks since.
    assert stream_simulator.stats["weight"] == 20 * stream_simulator.stats["requests"] > 20


def test_a_row_the_database_refuses_is_left_out_alone_and_counted(stream_simulator, own_db):
    running = CollectorThread.start(stream_simulator, own_db)
    try:
        wait_until(lambda: heartbeat(own_db), "the collector writing")
        poisoned = minute_of(stream_simulator.clock.now_ms()) + 3 * MINUTE
        # The database refuses ETHUSDT's candle of that minute (a stand-in for any row it cannot take).
        execute(
            own_db,
            "ALTER TABLE candles_1m ADD CONSTRAINT refuse_one CHECK (NOT (symbol = 'ETHUSDT' AND open_time = %s))",
            (ms_to_datetime(poisoned),),
        )
        wait_until(
            lambda: (
                closed_minutes(own_db, "BTCUSDT", poisoned, poisoned + MINUTE)
                and closed_minutes(own_db, "SOLUSDT", poisoned, poisoned + MINUTE)
                and closed_minutes(own_db, "ETHUSDT", poisoned + MINUTE, poisoned + 2 * MINUTE)
            ),
            "the minutes around it",
        )
    finally:
        running.stop()
    for symbol in ("BTCUSDT", "SOLUSDT"):  # written in the same batches as the refused row
        assert [
            r[:11] for r in table_candles(own_db, symbol, poisoned, poisoned + MINUTE)
        ] == rest_candles(stream_simulator.url, symbol, poisoned, poisoned + MINUTE)
    assert table_candles(own_db, "ETHUSDT", poisoned, poisoned + MINUTE) == []
    assert [
        r[:11] for r in table_candles(own_db, "ETHUSDT", poisoned + MINUTE, poisoned + 2 * MINUTE)
    ] == rest_candles(stream_simulator.url, "ETHUSDT", poisoned + MINUTE, poisoned + 2 * MINUTE)
    refused = heartbeat(own_db)[2]
    assert (
        set(refused) == {"refused by the database: check_violation"}
        and refused["refused by the database: check_violation"] >= 1
    )


def test_a_database_error_keeps_the_batch_and_nothing_is_lost(stream_simulator, own_db):
    running = CollectorThread.start(stream_simulator, own_db, sampling_interval_s=2.0)
    try:
        first = next_closed(own_db, stream_simulator, SYMBOLS)
        execute(
            own_db, "ALTER TABLE price_samples RENAME TO price_samples_away"
        )  # every write fails: not the rows' fault
        away = minute_of(stream_simulator.clock.now_ms())
        wait_until(
            lambda: stream_simulator.clock.now_ms() >= away + 2 * MINUTE,
            "two market minutes of failed writes",
        )
        assert len(running.collector.buffer) > 0
        execute(own_db, "ALTER TABLE price_samples_away RENAME TO price_samples")
        last = next_closed(own_db, stream_simulator, SYMBOLS)
    finally:
        running.stop()
    assert_once_and_equal_to_rest(stream_simulator, own_db, first, last + MINUTE)
    assert_a_sample_every_2s(own_db, first, last + MINUTE)  # the failed writes' included
    assert heartbeat(own_db)[2] == {}


def test_what_a_full_buffer_drops_is_counted_in_the_heartbeat(stream_simulator, own_db):
    running = CollectorThread.start(stream_simulator, own_db, buffer_rows=60)
    try:
        wait_until(lambda: heartbeat(own_db), "the collector writing")
        execute(own_db, "ALTER TABLE candles_1m RENAME TO candles_1m_away")
        wait_until(lambda: running.collector.buffer.dropped_candles >= 3, "candle rows dropped")
        execute(own_db, "ALTER TABLE candles_1m_away RENAME TO candles_1m")
        wait_until(
            lambda: heartbeat(own_db) and heartbeat(own_db)[2].get("buffer full: candle"),
            "drops in the heartbeat",
        )
    finally:
        running.stop()
    buffer = running.collector.buffer
    dropped = heartbeat(own_db)[2]
    assert dropped.get("buffer full: candle", 0) == buffer.dropped_candles >= 3
    assert dropped.get("buffer full: price sample", 0) == buffer.dropped_samples
