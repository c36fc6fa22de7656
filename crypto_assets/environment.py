"""Prepare the environment every entry point needs: a database and a Dagster instance.

With ``DATABASE_URL`` unset, a local PostgreSQL is started (or reused) under ``./.data``; the
schema is migrated; with ``DAGSTER_HOME`` unset, ``./.data/dagster_home`` gets the project's
``dagster.yaml`` (run and event storage in PostgreSQL through dagster-postgres).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from crypto_assets.settings import ConfigError, database_url_from_env, url_from_env
from crypto_assets.warehouse.db import connect
from crypto_assets.warehouse.roles import (
    API_ROLE,
    DASHBOARD_ROLE,
    ensure_readonly_role,
    role_password,
    role_url,
)
from crypto_assets.warehouse.schema import migrate
from crypto_assets.warehouse.server import ensure_database_url, local_state_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"
EVENT_BATCH_SIZE = "1000"
"""``DAGSTER_EVENT_BATCH_SIZE``: Dagster writes a ranged run's per-partition materializations
(and, with ``event_storage.py``, its planned events) in batches of this many events instead of
one database round trip each (dagster pull request #19862); a run has at most a few hundred
partitions, so one batch. Processes started by the platform inherit it."""


@dataclass(frozen=True)
class Environment:
    database_url: str
    dagster_home: Path
    timescaledb: bool
    local_server: bool
    dashboard_url: str | None  # the dashboard's read-only login, when the server allows one
    api_url: str | None = None  # the HTTP API's read-only login, likewise


def dagster_storage_url(url: str) -> str:
    """The URL dagster-postgres should use for the instance's storage.

    * ``postgresql+psycopg2://``: SQLAlchemy 2.1 (under dagster-postgres) defaults plain
      ``postgresql://`` to psycopg 3, which is not installed; psycopg2 is.
    * ``synchronous_commit=off`` for these connections only: a run writes one event per partition
      and per check (hundreds in a backfill), each its own commit; not waiting for the disk flush
      of each makes a backfill several times faster, and a crash can at worst lose the last
      fraction of a second of run events, never warehouse data (its connections are unaffected).
    """
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg2://" + url[len(scheme) :]
    if "synchronous_commit" not in url:
        url += ("&" if "?" in url else "?") + "options=-csynchronous_commit%3Doff"
    return url


def _dagster_postgres_url(database_url: str, local: bool) -> str:
    if os.environ.get("DAGSTER_POSTGRES_URL"):
        url = os.environ["DAGSTER_POSTGRES_URL"]
    elif not local:
        url = database_url
    else:
        from crypto_assets.warehouse.server import local_server

        url = local_server().create_database("dagster")
    return dagster_storage_url(url)


def check_environment() -> None:
    """Refuse, naming the variable, the environment values psycopg2, Dagster or the local server
    would fail on later with a traceback: ``DATABASE_URL``, ``DAGSTER_HOME``, ``DAGSTER_POSTGRES_URL``,
    ``CRYPTO_DATA_DIR``."""
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if home:
        path = Path(home)
        if not path.is_absolute():
            raise ConfigError(
                f"environment variable DAGSTER_HOME: {home!r} is not an absolute path"
                f" (Dagster needs one, like {path.absolute()})"
            )
        if not path.is_dir():
            raise ConfigError(
                f"environment variable DAGSTER_HOME: {home} is not a directory; create it"
                " (with a dagster.yaml: copy the project's) or unset DAGSTER_HOME to use the data directory's"
            )
    database_url_from_env()
    url_from_env(
        "DAGSTER_POSTGRES_URL",
        None,
        ("postgresql", "postgres", "postgresql+psycopg2"),
        needs_host=False,
    )
    data_dir = local_state_dir()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(
            f"the data directory {data_dir} (environment variable CRYPTO_DATA_DIR) is a file, not a directory"
        )


def prepare_environment() -> Environment:
    """Make ``DATABASE_URL``, ``DAGSTER_HOME`` and ``DAGSTER_POSTGRES_URL`` usable; migrate the schema
    and ensure the read-only roles of the dashboard and the API; batch Dagster's event writes
    (``EVENT_BATCH_SIZE``)."""
    check_environment()
    local = not os.environ.get("DATABASE_URL", "").strip()
    if local:
        os.environ["DATABASE_URL"] = ensure_database_url()
    database_url = os.environ["DATABASE_URL"]
    conn = connect(database_url)
    try:
        state = migrate(conn)
        readers = {role: ensure_readonly_role(conn, role) for role in (DASHBOARD_ROLE, API_ROLE)}
    finally:
        conn.close()
    # The dashboard and the API log in as their read-only roles where these exist and can
    # authenticate: on the local trust-auth server always, elsewhere when a password is configured.
    logins = {
        role: role_url(database_url, role) if made and (local or role_password(role)) else None
        for role, made in readers.items()
    }
    os.environ["DAGSTER_POSTGRES_URL"] = _dagster_postgres_url(database_url, local)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)
    if not os.environ.get("DAGSTER_HOME"):
        home = local_state_dir() / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    return Environment(
        database_url,
        Path(os.environ["DAGSTER_HOME"]),
        state.timescaledb,
        local,
        logins[DASHBOARD_ROLE],
        logins[API_ROLE],
    )
