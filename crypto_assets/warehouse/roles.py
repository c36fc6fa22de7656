"""The read-only database roles of the dashboard and the HTTP API, created idempotently next to the schema.

Why: the Streamlit dashboard and the API only read. Giving each its own login role that holds
nothing but ``SELECT`` means a bug or a crafted URL in either can never change the warehouse, and
each role shows up by name in ``pg_stat_activity``. A role is created "where the server allows":
when the migrating user may not create roles (a managed database, say), nothing happens and the
readers keep using ``DATABASE_URL`` (their own sessions are read-only transactions anyway).

``ensure_readonly_role(conn)`` is safe on every start and from several processes at once: it
creates the role when missing, (re)sets its password when one is given, and grants ``SELECT`` on
every table of the ``public`` schema now and on the tables the migrating user creates later.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg2 import sql
from psycopg2.extensions import connection

from crypto_assets.warehouse.db import scalar

DASHBOARD_ROLE = "crypto_dashboard"
PASSWORD_ENV = "DASHBOARD_DB_PASSWORD"
"""Environment variable holding the role's password (needed wherever the server checks passwords)."""
API_ROLE = "crypto_api"
API_PASSWORD_ENV = "API_DB_PASSWORD"
"""Environment variable holding the API role's password."""
_PASSWORD_ENVS = {DASHBOARD_ROLE: PASSWORD_ENV, API_ROLE: API_PASSWORD_ENV}

_LOCK_KEY = 7_391_005  # advisory lock: one process at a time changes the role and its grants
_SESSION_DEFAULTS = {
    "default_transaction_read_only": "on",
    "statement_timeout": "15s",
}


def role_password(role: str) -> str | None:
    """The password configured for ``role`` in its environment variable, if any."""
    env = _PASSWORD_ENVS.get(role)
    return (os.environ.get(env) or None) if env else None


def can_create_roles(conn: connection) -> bool:
    """True when the connected user is a superuser or has CREATEROLE."""
    with conn.cursor() as cur:
        cur.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        row = cur.fetchone()
    return bool(row and row[0])


def ensure_readonly_role(
    conn: connection, role: str = DASHBOARD_ROLE, password: str | None = None
) -> bool:
    """Create or refresh ``role`` as a read-only login of the connected database.

    Returns False (and changes nothing) when the connected user may not create roles. The
    password defaults to the role's environment variable (``$DASHBOARD_DB_PASSWORD``,
    ``$API_DB_PASSWORD``); without one the role can only log in where the server trusts local
    connections (the embedded default server does).
    """
    if password is None:
        password = role_password(role)
    conn.autocommit = False
    if not can_create_roles(conn):
        conn.rollback()
        return False
    name = sql.Identifier(role)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(name))
        if password is not None:
            cur.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD %s").format(name), (password,))
        for setting, value in _SESSION_DEFAULTS.items():
            cur.execute(
                sql.SQL("ALTER ROLE {} SET {} = %s").format(name, sql.Identifier(setting)), (value,)
            )
        cur.execute("SELECT current_database()")
        database = sql.Identifier(scalar(cur))
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
        cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(name))
        cur.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}"
            ).format(name)
        )
    conn.commit()
    return True


def role_url(database_url: str, role: str = DASHBOARD_ROLE, password: str | None = None) -> str:
    """``database_url`` with its user (and password) replaced by ``role``'s.

    The password defaults to the role's environment variable; none leaves the URL without one.
    """
    if password is None:
        password = role_password(role)
    parts = urlsplit(database_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    login = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))
