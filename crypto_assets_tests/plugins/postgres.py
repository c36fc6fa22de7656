"""PostgreSQL fixtures: one throwaway cluster per test session, a migrated database, clean tables.

- ``pg_server`` (session): a :class:`LocalPostgres` in a temp dir, random port, ``durable=False``.
  TimescaleDB is preloaded when installed; env ``CRYPTO_TEST_TIMESCALEDB=0`` runs on plain
  PostgreSQL, ``=1`` requires TimescaleDB (the session fails loudly without it).
- ``pg_url`` (session): URL of database ``crypto_test`` with the schema applied by
  ``crypto_assets.warehouse.schema.migrate``.
- ``db_url`` (function): the same URL, after TRUNCATE of every table the schema creates
  (all but ``schema_migrations``), so each test starts empty.
- ``pg_conn`` (function): a psycopg2 connection to ``db_url``, closed after the test.
- ``pg_scratch_dir`` (function): an empty directory the server's system user can enter, for
  tests that run their own ``LocalPostgres``.
- ``new_database(pg_server, name, migrate=False)``: a fresh (dropped and re-created) database.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from crypto_assets.warehouse import schema
from crypto_assets.warehouse.server import LocalPostgres, LocalPostgresError

TEST_DATABASE = "crypto_test"

__all__ = ["TEST_DATABASE", "new_database", "schema_tables", "scratch_dir", "timescaledb_mode"]


def timescaledb_mode() -> bool | None:
    """``CRYPTO_TEST_TIMESCALEDB``: unset/empty -> None (when installed), 1 -> True, 0 -> False."""
    raw = os.environ.get("CRYPTO_TEST_TIMESCALEDB", "").strip().lower()
    if raw == "":
        return None
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise pytest.UsageError(f"CRYPTO_TEST_TIMESCALEDB must be 0 or 1, got {raw!r}")


def schema_tables() -> list[str]:
    """Every table the schema's migrations create, in creation order (no schema_migrations)."""
    names: list[str] = []
    pattern = re.compile(
        r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.I
    )
    for _, statement in schema.MIGRATIONS:
        for name in pattern.findall(statement):
            if name != "schema_migrations" and name not in names:
                names.append(name)
    return names


def scratch_dir(prefix: str) -> Path:
    """A temp dir the server's system user can traverse (pytest's own tmp dirs are 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def new_database(pg_server: LocalPostgres, name: str, *, migrate: bool = False) -> str:
    """Drop (if present) and create database ``name`` on ``pg_server``; return its URL.

    With ``migrate=True`` the schema is applied too.
    """
    pg_server.drop_database(name)
    url = pg_server.create_database(name)
    if migrate:
        with contextlib.closing(psycopg2.connect(url)) as conn:
            schema.migrate(conn)
    return url


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    mode = timescaledb_mode()
    root = scratch_dir("crypto-assets-pg-")
    server = LocalPostgres(root / "data", timescaledb=mode, durable=False)
    error: LocalPostgresError | None = None
    try:
        server.start()
    except LocalPostgresError as exc:
        error = exc
    if error is not None:
        shutil.rmtree(root, ignore_errors=True)
        hint = " (CRYPTO_TEST_TIMESCALEDB=1 requires TimescaleDB)" if mode else ""
        pytest.fail(f"could not start the test PostgreSQL{hint}: {error}", pytrace=False)
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server: LocalPostgres) -> str:
    return new_database(pg_server, TEST_DATABASE, migrate=True)


@pytest.fixture
def db_url(pg_url: str) -> str:
    with contextlib.closing(psycopg2.connect(pg_url)) as conn:
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = '15s'")
            cur.execute(
                "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NOT NULL",
                (schema_tables(),),
            )
            present = [row[0] for row in cur.fetchall()]
            if present:
                try:
                    cur.execute(
                        sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                            sql.SQL(", ").join(sql.Identifier(t) for t in present)
                        )
                    )
                except psycopg2.errors.LockNotAvailable:
                    pytest.fail(
                        "could not TRUNCATE the test tables within 15s: a connection from an "
                        "earlier test still holds a lock (close your connections/transactions)",
                        pytrace=False,
                    )
        conn.commit()
    return pg_url


@pytest.fixture
def pg_conn(db_url: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(db_url)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def pg_scratch_dir() -> Iterator[Path]:
    path = scratch_dir("crypto-assets-pg-scratch-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
