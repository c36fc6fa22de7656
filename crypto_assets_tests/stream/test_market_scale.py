"""The collector at whole-market scale, against a simulator that enforces Binance's connection rules.

1,100 symbols (more than one connection's 1,024 streams) on the wall clock, as on the exchange:
a push per symbol every 2 s. The simulator refuses request lines over 8 KB, more than 1,024
streams per connection and bad SUBSCRIBE requests, and closes a connection that sends more than
5 messages in a second; its counts say whether the collector ever broke one of those rules.
"""

from __future__ import annotations

import time

import pytest

from crypto_assets.binance.simulator import SimulatorServer
from crypto_assets.binance.simulator.stream_limits import StreamRules
from crypto_assets_tests.stream.helpers import CollectorThread, query, wait_until

SYMBOLS = tuple(f"SYM{i:04d}USDT" for i in range(1, 1101))
# kline_1m-0 carries SYM0001..SYM1024: its URL names 92 of them (ws://127.0.0.1:NNNNN/stream?streams=
# is 36 characters, then 20 per name and a "/" between: 36 + 20 + 21 x 91 = 1,967 <= 2,000), the
# other 932 are subscribed 200 at a time: 5 requests. kline_1m-1 carries the last 76: all in its URL.
SUBSCRIBE_REQUESTS = 5


@pytest.fixture(scope="module")
def market():
    rules = StreamRules(
        ping_interval_s=2.0, pong_timeout_s=10.0
    )  # pongs are due and count as messages
    with SimulatorServer(extra_symbols=len(SYMBOLS), stream_rules=rules) as server:
        yield server


def symbols_pushed_since(db_url: str, since_s: float) -> int:
    """How many symbols have a price sample (one per push) stamped after ``since_s`` (epoch seconds)."""
    return query(
        db_url,
        "SELECT count(DISTINCT symbol) FROM price_samples WHERE sampled_at > to_timestamp(%s)",
        (since_s,),
    )[0][0]


def test_1100_symbols_stream_within_every_limit_and_all_come_back_after_every_connection_drops(
    market, db_url
):
    running = CollectorThread.start(market, db_url, symbols=SYMBOLS, idle_timeout_s=10.0)
    try:
        started = time.time()
        wait_until(
            lambda: symbols_pushed_since(db_url, started) == len(SYMBOLS),
            "a push of every symbol written",
        )
        beats = query(
            db_url,
            "SELECT connection_id, streams, not_streaming, dropped FROM stream_heartbeats ORDER BY 1",
        )
        assert beats == [("kline_1m-0", 1024, {}, {}), ("kline_1m-1", 76, {}, {})]
        assert market.streams.subscribed_streams() == len(SYMBOLS)
        assert (market.streams.stats["status_101"], market.streams.stats["requests"]) == (
            2,
            SUBSCRIBE_REQUESTS,
        )

        assert market.streams.drop_all() == 2  # a reconnect storm
        dropped_at = time.time()
        wait_until(
            lambda: symbols_pushed_since(db_url, dropped_at) == len(SYMBOLS),
            "every symbol pushing again",
        )
        assert [s.stats.reconnect_count for s in running.collector.streams] == [1, 1]
        assert (market.streams.stats["status_101"], market.streams.stats["requests"]) == (
            4,
            2 * SUBSCRIBE_REQUESTS,
        )
    finally:
        running.stop()
    counts = market.streams.stats.snapshot()
    broken = {
        name: counts.get(name, 0)
        for name in (
            "closed_message_rate",
            "closed_pong_timeout",
            "requests_refused",
            "status_400",
            "status_429",
        )
    }
    assert broken == dict.fromkeys(broken, 0)
