"""The warehouse writer on its own, against a real PostgreSQL: price samples COPYed straight
into ``price_samples`` still leave a refused row out alone, and a batch written again (a retry
after a commit whose acknowledgement was lost) duplicates nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crypto_assets.binance.stream_wire import KlineEvent
from crypto_assets.binance.wire import Kline
from crypto_assets.stream.buffer import Batch, PendingRows
from crypto_assets.stream.writer import WarehouseWriter
from crypto_assets_tests.plugins.postgres import new_database
from crypto_assets_tests.stream.helpers import execute, query

MINUTE_MS = 60_000
START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC


@pytest.fixture
def writer_db(pg_server):
    """A migrated database of the test's own, to change its schema freely."""
    return new_database(pg_server, "crypto_stream_writer", migrate=True)


def pushes(symbols: list[str], event_ms: int, price: str) -> Batch:
    """One forming push per symbol at ``event_ms``, closing at ``price``, as the writer gets them."""
    rows = PendingRows(capacity=1000, sampling_interval_ms=1)
    open_ms = event_ms - event_ms % MINUTE_MS
    for symbol in symbols:
        kline = Kline(
            open_ms, "1.5", "2.5", "1.0", price, "10", open_ms + MINUTE_MS - 1, "15", 7, "4", "6"
        )
        rows.add(KlineEvent(symbol, event_ms, kline, False))
    return rows.take()


def samples(db_url: str) -> list[tuple]:
    return query(db_url, "SELECT symbol, sampled_at, price FROM price_samples ORDER BY 1, 2")


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def test_a_price_sample_the_database_refuses_is_left_out_alone(writer_db):
    execute(
        writer_db,
        "ALTER TABLE price_samples ADD CONSTRAINT refuse_one CHECK (NOT (symbol = 'ETHUSDT' AND price = 3))",
    )
    writer = WarehouseWriter(writer_db)
    try:
        refused = writer.write(pushes(["BTCUSDT", "ETHUSDT", "SOLUSDT"], START_MS + 2_000, "3"))
    finally:
        writer.close()
    assert [(r.symbol, r.reason) for r in refused] == [("ETHUSDT", "check_violation")]
    assert 'violates check constraint "refuse_one"' in refused[0].message
    assert samples(writer_db) == [
        ("BTCUSDT", at(START_MS + 2_000), Decimal("3")),
        ("SOLUSDT", at(START_MS + 2_000), Decimal("3")),
    ]
    assert query(writer_db, "SELECT symbol, close FROM candles_1m ORDER BY 1") == [
        ("BTCUSDT", Decimal("3")),
        ("ETHUSDT", Decimal("3")),
        ("SOLUSDT", Decimal("3")),
    ]


def test_a_batch_written_again_duplicates_nothing_and_its_new_rows_are_written(writer_db):
    writer = WarehouseWriter(writer_db)
    try:
        first = pushes(["BTCUSDT", "ETHUSDT"], START_MS + 2_000, "3")
        assert writer.write(first) == []
        # The same rows again (the commit went through, its acknowledgement was lost), with a
        # later push of each symbol behind them.
        later = pushes(["BTCUSDT", "ETHUSDT"], START_MS + 4_000, "4")
        again = Batch(first.candles | later.candles, first.samples + later.samples)
        assert writer.write(again) == []
    finally:
        writer.close()
    assert samples(writer_db) == [
        ("BTCUSDT", at(START_MS + 2_000), Decimal("3")),
        ("BTCUSDT", at(START_MS + 4_000), Decimal("4")),
        ("ETHUSDT", at(START_MS + 2_000), Decimal("3")),
        ("ETHUSDT", at(START_MS + 4_000), Decimal("4")),
    ]
    assert query(writer_db, "SELECT symbol, close, is_closed FROM candles_1m ORDER BY 1") == [
        ("BTCUSDT", Decimal("4"), False),
        ("ETHUSDT", Decimal("4"), False),
    ]
