"""Connections to the warehouse, with errors that name the database URL (without password)."""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2.extensions import connection, cursor


class DatabaseUnavailableError(RuntimeError):
    """The database at the configured URL could not be reached after retries."""


def redact(url: str) -> str:
    """The URL with its password (``user:password@`` or a ``password=`` parameter) shown as ``***``.

    Works on malformed URLs too (an unencoded ``/`` or ``@`` in the password, a wrong scheme): the
    whole span between the user name and the last ``@`` is hidden, so nothing secret is echoed.
    """
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        userinfo, _, host = rest.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        if colon:
            rest = f"{user}:***@{host}"
    return re.sub(r"(?i)(\bpassword=)[^&\s]*", r"\1***", f"{scheme}{sep}{rest}")


def first_line(err: BaseException) -> str:
    """The first line of an error's message (psycopg2's run over several), or its type's name."""
    text = str(err).strip()
    return text.splitlines()[0].strip() if text else type(err).__name__


def scalar(cur: cursor) -> Any:
    """The first column of the row the last statement returned (a count, ``now()``, a setting);
    a statement that returned no row is a bug, named with its SQL."""
    row = cur.fetchone()
    if row is None:
        raise LookupError(f"expected one row from {cur.query!r}, got none")
    return row[0]


def connect(
    url: str, *, attempts: int = 3, delay_s: float = 1.0, application_name: str = "crypto-assets"
) -> connection:
    """Open a psycopg2 connection, retrying a few times before a clear failure."""
    last = None
    for attempt in range(1, attempts + 1):
        try:
            return psycopg2.connect(url, application_name=application_name, connect_timeout=5)
        except psycopg2.OperationalError as err:
            last = first_line(err)
            if attempt < attempts:
                time.sleep(delay_s * attempt)
    raise DatabaseUnavailableError(
        f"cannot connect to the database at {redact(url)} after {attempts} attempts: {last}. "
        "Check DATABASE_URL (unset, the platform starts its own local server)."
    )


def explain_read_error(
    err: psycopg2.Error, url: str, *, reader: str, subject: str, timeout_s: float
) -> str:
    """What a failed read means for the person or program that asked, and what to do about it.

    ``reader`` names who read ("The dashboard"), ``subject`` what it was reading ("this page"),
    ``timeout_s`` the statement timeout its sessions run with. The URL appears without password.
    """
    if isinstance(err, pg_errors.UndefinedTable):
        return (
            f"The warehouse at {redact(url)} has no table for {subject} ({first_line(err)}). "
            "Create the tables with `crypto migrate` (or `make up`)."
        )
    if isinstance(err, pg_errors.InsufficientPrivilege):
        return (
            f"{reader}'s database role may not read this data ({first_line(err)}). "
            "Re-run `crypto migrate` to grant the read-only role its SELECT rights."
        )
    if isinstance(err, pg_errors.QueryCanceled):
        return f"The database took too long to answer (over {timeout_s:g} s). Choose a shorter range and try again."
    if isinstance(err, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return (
            f"The database at {redact(url)} is not reachable: {first_line(err)}. "
            "Start the platform with `make up`, or point DATABASE_URL at a running server."
        )
    return f"The database refused {reader[:1].lower() + reader[1:]}'s query: {first_line(err)}."
