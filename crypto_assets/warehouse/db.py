"""Connections to the warehouse, with errors that name the database URL (without password)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import psycopg2


class DatabaseUnavailableError(RuntimeError):
    """The database at the configured URL could not be reached after retries."""


def redact(url: str) -> str:
    """The URL with its password replaced by ***, safe for logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def connect(url: str, *, attempts: int = 3, delay_s: float = 1.0, application_name: str = "crypto-assets"):
    """Open a psycopg2 connection, retrying a few times before a clear failure."""
    last = None
    for attempt in range(1, attempts + 1):
        try:
            return psycopg2.connect(url, application_name=application_name, connect_timeout=5)
        except psycopg2.OperationalError as err:
            last = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if attempt < attempts:
                time.sleep(delay_s * attempt)
    raise DatabaseUnavailableError(
        f"cannot connect to the database at {redact(url)} after {attempts} attempts: {last}. "
        "Check DATABASE_URL (unset, the platform starts its own local server)."
    )
