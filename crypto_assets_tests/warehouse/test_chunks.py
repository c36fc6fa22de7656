"""Chunks created ahead of a run, so symbols loading the same new days at once never wait on each other."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest

from crypto_assets.warehouse.chunks import create_chunks

DAY_MS = 86_400_000
JAN_2024 = 1_704_067_200_000  # 2024-01-01
ROW = (
    "INSERT INTO candles_1m (symbol, open_time, close_time, open, high, low, close, volume,"
    " quote_volume, trade_count, taker_buy_base_volume, taker_buy_quote_volume, source)"
    " VALUES (%s, to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0), 1, 1, 1, 1, 1, 1, 1, 0, 0, 'rest')"
)


def insert_while_other_symbol_writes(db_url: str, open_ms: int) -> bool:
    """BTCUSDT inserts a candle at ``open_ms`` and stays uncommitted while ETHUSDT inserts one at
    the same minute: True when ETHUSDT's insert went through without waiting (0.5 s at most)."""
    first, second = psycopg2.connect(db_url), psycopg2.connect(db_url)
    try:
        with first.cursor() as cur:
            cur.execute(ROW, ("BTCUSDT", open_ms, open_ms + 59_999))
        with second.cursor() as cur:
            cur.execute("SET lock_timeout = '500ms'")
            try:
                cur.execute(ROW, ("ETHUSDT", open_ms, open_ms + 59_999))
            except psycopg2.errors.LockNotAvailable:
                return False
        return True
    finally:
        for conn in (second, first):
            with contextlib.suppress(psycopg2.Error):
                conn.rollback()
            conn.close()


def test_writers_of_new_days_wait_for_each_other_only_until_the_chunks_exist(pg_server, db_url):
    timescaledb = pg_server.timescaledb
    # A new chunk is created by the first transaction writing into it; TimescaleDB makes every
    # other writer of that chunk wait until it commits (a plain table has no chunks).
    assert insert_while_other_symbol_writes(db_url, JAN_2024) is not timescaledb

    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        placed = create_chunks(
            cur, "candles_1m", JAN_2024 + 30 * DAY_MS, JAN_2024 + 60 * DAY_MS, {"source": "rest"}
        )
    assert (placed > 0) is timescaledb
    for day in (30, 45, 59):  # the first, a middle and the last day of the span
        assert insert_while_other_symbol_writes(db_url, JAN_2024 + day * DAY_MS + 600_000)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM candles_1m")
        assert cur.fetchone() == (0,)  # the placeholders never stay


@pytest.mark.parametrize("span", [(JAN_2024, JAN_2024), (JAN_2024 + DAY_MS, JAN_2024)])
def test_an_empty_span_creates_nothing(pg_conn, span):
    with pg_conn.cursor() as cur:
        assert create_chunks(cur, "candles_1m", *span) == 0
