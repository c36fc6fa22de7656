"""The warehouse schema on real PostgreSQL (with TimescaleDB when the session has it)."""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal

import psycopg2

from crypto_assets.warehouse import schema
from crypto_assets.warehouse.db import scalar
from crypto_assets.warehouse.server import LocalPostgres
from crypto_assets_tests.plugins.postgres import new_database, schema_tables, timescaledb_mode

DESIGN_TABLES = {
    "candles_15m",
    "candles_1m",
    "price_samples",
    "price_downsampled",
    "candles_1h",
    "candles_1d",
    "market_metrics_daily",
}
ALL_VERSIONS = [version for version, _ in schema.MIGRATIONS]


def _connect(url: str):
    return contextlib.closing(psycopg2.connect(url))


def test_session_mode_matches_request(pg_server: LocalPostgres) -> None:
    mode = timescaledb_mode()
    if mode is not None:
        assert pg_server.timescaledb is mode


def test_migrate_is_idempotent(pg_server: LocalPostgres) -> None:
    url = new_database(pg_server, "schema_idempotent")
    with _connect(url) as conn:
        first = schema.migrate(conn)
        second = schema.migrate(conn)
    assert first.applied == ALL_VERSIONS
    assert second.applied == []
    assert first.timescaledb is second.timescaledb is pg_server.timescaledb
    with _connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in cur.fetchall()] == ALL_VERSIONS


def test_concurrent_migrate_from_two_threads(pg_server: LocalPostgres) -> None:
    url = new_database(pg_server, "schema_concurrent")
    barrier = threading.Barrier(2)
    results: list[schema.SchemaState] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with _connect(url) as conn:
                barrier.wait(timeout=30)
                results.append(schema.migrate(conn))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == 2
    assert sorted(v for r in results for v in r.applied) == ALL_VERSIONS  # each applied once
    with _connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert scalar(cur) == len(ALL_VERSIONS)


def test_every_design_table_exists(pg_conn) -> None:
    assert set(schema_tables()) >= DESIGN_TABLES
    with pg_conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        present = {r[0] for r in cur.fetchall()}
    assert set(schema_tables()) | {"schema_migrations"} <= present


def test_time_series_tables_match_the_server(pg_server: LocalPostgres, pg_conn) -> None:
    """Hypertables exactly when the server has TimescaleDB; plain tables otherwise (both CI passes)."""
    assert (
        schema.has_timescaledb(pg_conn)
        == schema.timescaledb_loadable(pg_conn)
        == pg_server.timescaledb
    )
    if pg_server.timescaledb:
        with pg_conn.cursor() as cur:
            cur.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
            hypertables = {r[0] for r in cur.fetchall()}
        assert hypertables == {table for table, _, _ in schema.HYPERTABLES}
        assert len(hypertables) == 6


CANDLE = {
    "symbol": "BTCUSDT",
    "open_time": "2024-08-22 09:00:00+00",
    "close_time": "2024-08-22 09:14:59.999+00",
    "open": "60774.00000000",
    "high": "60800.01000000",
    "low": "60700.00000000",
    "close": "60774.00000000",
    "volume": "12.34567800",
    "quote_volume": "750123.45678901",
    "trade_count": 1234,
    "taker_buy_base_volume": "0.00000001",
    "taker_buy_quote_volume": "123456789012345.12345678",
}
EXACT = [
    k
    for k, v in CANDLE.items()
    if isinstance(v, str) and k not in ("symbol", "open_time", "close_time")
]


def test_numeric_round_trip_is_exact(pg_conn) -> None:
    columns = ", ".join(CANDLE)
    marks = ", ".join(f"%({k})s" for k in CANDLE)
    with pg_conn.cursor() as cur:
        cur.execute(f"INSERT INTO candles_15m ({columns}) VALUES ({marks})", CANDLE)
        cur.execute(f"SELECT {', '.join(f'{c}::text' for c in EXACT)} FROM candles_15m")
        assert list(cur.fetchone()) == [CANDLE[c] for c in EXACT]
        cur.execute(f"SELECT {', '.join(EXACT)} FROM candles_15m")
        decimals = cur.fetchone()
    pg_conn.commit()
    assert all(isinstance(d, Decimal) for d in decimals)
    # exact values and scale; format "f" because str(Decimal("0.00000001")) is "1E-8"
    assert [format(d, "f") for d in decimals] == [CANDLE[c] for c in EXACT]


def test_db_url_starts_every_test_with_empty_tables(pg_conn) -> None:
    # runs after the round-trip test above, which left a row in candles_15m
    with pg_conn.cursor() as cur:
        for table in schema_tables():
            cur.execute(f"SELECT count(*) FROM {table}")
            assert scalar(cur) == 0, table
        cur.execute("SELECT count(*) FROM schema_migrations")
        assert scalar(cur) == len(ALL_VERSIONS)  # kept
