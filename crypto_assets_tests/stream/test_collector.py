"""The collector against the simulator over a real socket and a real PostgreSQL.

Every expected candle is the simulator's REST kline for that minute, fetched over HTTP.
"""

from __future__ import annotations

import pytest

from crypto_assets.binance.errors import UnknownSymbolError
from crypto_assets.stream.collector import Collector, CollectorConfig
from crypto_assets_tests.stream.helpers import (
    MINUTE,
    SYMBOLS,
    closed_minutes,
    minute_of,
    query,
    rest_candles,
    table_candles,
    wait_until,
)


def test_closed_minutes_equal_rest_and_the_forming_one_updates_in_place(
    stream_simulator, db_url, collector
):
    collector()
    first = minute_of(stream_simulator.clock.now_ms()) + MINUTE  # the first whole minute streamed
    wait_until(
        lambda: all(closed_minutes(db_url, s, first, first + 3 * MINUTE) == 3 for s in SYMBOLS),
        "3 closed minutes per symbol",
    )
    for symbol in SYMBOLS:
        rows = table_candles(db_url, symbol, first, first + 3 * MINUTE)
        assert [row[:11] for row in rows] == rest_candles(
            stream_simulator.url, symbol, first, first + 3 * MINUTE
        )
        assert {(row[11], row[12]) for row in rows} == {(True, "stream")}
    # The minute forming now has one row, not closed, which later pushes update.
    forming = query(
        db_url,
        "SELECT symbol, count(*), bool_or(is_closed) FROM candles_1m"
        " WHERE open_time = (SELECT max(open_time) FROM candles_1m) GROUP BY symbol",
    )
    assert all(count == 1 for _, count, _ in forming)


def test_price_samples_keep_one_push_per_sampling_interval(stream_simulator, db_url, collector):
    collector(sampling_interval_s=10.0, symbols=("BTCUSDT",))
    start = minute_of(stream_simulator.clock.now_ms()) + MINUTE
    wait_until(
        lambda: closed_minutes(db_url, "BTCUSDT", start, start + 2 * MINUTE) == 2,
        "2 closed minutes",
    )
    rows = query(
        db_url,
        "SELECT (extract(epoch FROM sampled_at) * 1000)::bigint, price::text FROM price_samples"
        " WHERE sampled_at >= to_timestamp(%s / 1000.0) AND sampled_at < to_timestamp(%s / 1000.0)"
        " ORDER BY sampled_at",
        (start, start + 2 * MINUTE),
    )
    # A push every 2 s of market time, kept once per 10 s bucket: the push opening each bucket.
    assert [t for t, _ in rows] == [start + i * 10_000 for i in range(12)]
    # Each sample is the close pushed at that instant: the forming candle's close at second 0
    # is its open, which is the previous minute's close (REST's).
    closes = {
        row[0]: row[4]
        for row in rest_candles(stream_simulator.url, "BTCUSDT", start - MINUTE, start + MINUTE)
    }
    assert rows[0][1] == closes[start - MINUTE] and rows[6][1] == closes[start]


def test_each_connection_writes_a_heartbeat(stream_simulator, db_url, collector):
    running = collector(streams_per_connection=2)
    assert [s.symbols for s in running.collector.streams] == [["BTCUSDT", "ETHUSDT"], ["SOLUSDT"]]
    wait_until(
        lambda: (
            len(query(db_url, "SELECT 1 FROM stream_heartbeats WHERE last_message_at IS NOT NULL"))
            == 2
        ),
        "two heartbeats",
    )
    beats = query(
        db_url,
        "SELECT connection_id, streams, reconnect_count, malformed_count, dropped, not_streaming"
        " FROM stream_heartbeats ORDER BY 1",
    )
    assert beats == [("kline_1m-0", 2, 0, 0, {}, {}), ("kline_1m-1", 1, 0, 0, {}, {})]
    assert stream_simulator.streams.open_connections() == 2


def test_a_malformed_message_is_skipped_and_counted_and_the_stream_goes_on(
    stream_simulator, db_url, collector
):
    running = collector(symbols=("BTCUSDT",))
    wait_until(lambda: running.collector.streams[0].stats.last_message_at, "a first message")
    stream_simulator.streams.faults.update(
        malformed_next_n=4
    )  # one of each kind the simulator breaks
    # (no heartbeat row until the collector's first flush)
    wait_until(
        lambda: query(db_url, "SELECT malformed_count FROM stream_heartbeats") == [(4,)],
        "4 malformed counted",
    )
    after = minute_of(stream_simulator.clock.now_ms()) + MINUTE
    wait_until(
        lambda: closed_minutes(db_url, "BTCUSDT", after, after + MINUTE) == 1, "the stream going on"
    )
    assert [
        row[:11] for row in table_candles(db_url, "BTCUSDT", after, after + MINUTE)
    ] == rest_candles(stream_simulator.url, "BTCUSDT", after, after + MINUTE)
    assert stream_simulator.streams.stats["status_101"] == 1  # no reconnect was needed


def test_an_unknown_symbol_fails_at_startup_with_its_name(stream_simulator, db_url):
    config = CollectorConfig(
        symbols=("BTCUSDT", "NOSUCHUSDT"),
        ws_url=stream_simulator.ws_url,
        api_url=stream_simulator.url,
        database_url=db_url,
    )
    with pytest.raises(UnknownSymbolError, match="NOSUCHUSDT"):
        Collector(config).validate()
