"""Connections to the warehouse, with errors that name the database URL (without password)."""

from __future__ import annotations

import re
import time

import psycopg2


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


def connect(url: str, *, attempts: int = 3, delay_s: float = 1.0, application_name: str = "crypto-assets"):
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
