"""The dashboard's read-only role: reads every table, writes none, survives re-runs, and the
dashboard works through it."""

from __future__ import annotations

import contextlib

import psycopg2
import pytest

from crypto_assets.warehouse.roles import DASHBOARD_ROLE, ensure_readonly_role, role_url
from crypto_assets_tests.dashboards.apptest import PAGES, open_page
from crypto_assets_tests.plugins.postgres import new_database, schema_tables


@pytest.fixture(scope="module")
def readonly_url(pg_server) -> str:
    url = new_database(pg_server, "dashboard_roles", migrate=True)
    with contextlib.closing(psycopg2.connect(url)) as conn:
        assert ensure_readonly_role(conn, password=None)
        assert ensure_readonly_role(conn, password=None)  # again: nothing fails, nothing changes
        with conn.cursor() as cur:  # a table created after the grant is readable too
            cur.execute("CREATE TABLE later_table (x int)")
        conn.commit()
    return role_url(url, password=None)


def test_the_role_reads_every_table_and_writes_none(readonly_url):
    assert readonly_url.split("://")[1].startswith(f"{DASHBOARD_ROLE}@")
    with contextlib.closing(psycopg2.connect(readonly_url)) as conn, conn.cursor() as cur:
        conn.autocommit = True
        for table in [*schema_tables(), "later_table"]:
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone() == (0,)
        cur.execute("SHOW default_transaction_read_only")
        assert cur.fetchone() == ("on",)
        cur.execute(
            "SET default_transaction_read_only = off"
        )  # even a session that asks cannot write
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("INSERT INTO price_samples VALUES ('BTCUSDT', now(), 1)")


def test_a_user_without_createrole_leaves_things_as_they_are(pg_server):
    url = new_database(pg_server, "dashboard_roles_plain", migrate=True)
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS plain_owner")
        cur.execute("CREATE ROLE plain_owner LOGIN")
        conn.commit()
    with contextlib.closing(psycopg2.connect(role_url(url, "plain_owner", password=None))) as conn:
        assert ensure_readonly_role(conn, role="never_created") is False
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'never_created'")
            assert cur.fetchone() == (0,)


def test_role_url_swaps_the_login_and_keeps_the_rest():
    url = "postgresql://crypto:owner-secret@db.internal:5432/crypto?sslmode=require"
    assert role_url(url, password="p@ss word") == (
        "postgresql://crypto_dashboard:p%40ss%20word@db.internal:5432/crypto?sslmode=require"
    )
    assert (
        role_url(url, password=None)
        == "postgresql://crypto_dashboard@db.internal:5432/crypto?sslmode=require"
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_through_the_readonly_role(page, readonly_url, use_database):
    use_database(readonly_url)
    at = open_page(page)
    assert not at.error
