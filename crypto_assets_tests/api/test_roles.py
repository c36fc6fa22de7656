"""The API reads through its own read-only role: the role cannot write, and the API's sessions
are that role's, read-only, with a statement timeout."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest

from crypto_assets.warehouse.roles import API_ROLE
from crypto_assets_tests.plugins.postgres import schema_tables

WRITES = [
    "INSERT INTO candles_1m SELECT * FROM candles_1m LIMIT 1",
    "UPDATE candles_1h SET high = high + 1",
    "DELETE FROM price_samples",
    "TRUNCATE market_metrics_daily",
    "CREATE TABLE api_was_here (x int)",
    "DROP TABLE candles_15m",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_api_role_is_refused_every_write(statement, api_market):
    assert api_market.readonly_url.split("://")[1].startswith(f"{API_ROLE}@")
    with (
        contextlib.closing(psycopg2.connect(api_market.readonly_url)) as conn,
        conn.cursor() as cur,
    ):
        conn.autocommit = True
        cur.execute(
            "SET default_transaction_read_only = off"
        )  # even a session that asks cannot write
        with pytest.raises(
            (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.ReadOnlySqlTransaction)
        ):
            cur.execute(statement)


def test_the_api_role_reads_every_table(api_market):
    with (
        contextlib.closing(psycopg2.connect(api_market.readonly_url)) as conn,
        conn.cursor() as cur,
    ):
        for table in schema_tables():
            cur.execute(f"SELECT count(*) >= 0 FROM {table}")
            assert cur.fetchone() == (True,)


def test_the_api_sessions_are_the_roles_read_only_and_time_limited(api_market, client):
    assert client.get("/v1/symbols").status_code == 200  # the pool now holds an idle session
    with contextlib.closing(psycopg2.connect(api_market.url)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'crypto-api'"
            " AND datname = current_database()"
        )
        assert cur.fetchall() == [(API_ROLE,)]
    with (
        contextlib.closing(psycopg2.connect(api_market.readonly_url)) as conn,
        conn.cursor() as cur,
    ):
        cur.execute(
            "SELECT current_setting('default_transaction_read_only'), current_setting('statement_timeout')"
        )
        assert cur.fetchone() == (
            "on",
            "15s",
        )  # the role's own defaults, for any other client of the role too
