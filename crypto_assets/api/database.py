"""The API's database sessions: a pool of read-only connections and one snapshot per request.

The pool is SQLAlchemy Core's ``QueuePool`` (through ``create_engine``; no ORM): a request waits
up to ``pool_wait_s`` for a free connection instead of failing at once, a connection is pinged
before use (so a restarted database costs one reconnect, not an error), and one that broke is
dropped. The connections are plain psycopg2 ones, so the API runs the same queries as the
dashboard (``crypto_assets.warehouse.queries``).

Every session is read-only (``default_transaction_read_only``; the ``crypto_api`` role can only
``SELECT`` anyway), bounded by ``statement_timeout`` and in UTC; a request reads one
repeatable-read snapshot, so the pages of a download agree with each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import sqlalchemy
import sqlalchemy.exc
from psycopg2 import errors as pg_errors

from crypto_assets.api.config import ApiConfig
from crypto_assets.api.errors import ApiError
from crypto_assets.warehouse.db import explain_read_error


class Warehouse:
    """Read-only snapshots of the warehouse at ``config.database_url``."""

    def __init__(self, config: ApiConfig):
        self.url = config.database_url
        self.timeout_s = config.statement_timeout_s
        options = (
            f"-c default_transaction_read_only=on -c statement_timeout={round(self.timeout_s * 1000)}ms"
            " -c TimeZone=UTC -c DateStyle=ISO"
        )

        def connect():
            return psycopg2.connect(
                self.url, options=options, application_name="crypto-api", connect_timeout=5
            )

        self.engine = sqlalchemy.create_engine(
            "postgresql+psycopg2://",
            creator=connect,
            pool_size=config.pool_size,
            max_overflow=0,
            pool_timeout=config.pool_wait_s,
            pool_pre_ping=True,
        )

    def explain(self, err: psycopg2.Error) -> ApiError:
        """A database failure as the answer the client gets: 504 for a timeout, else 503."""
        status = 504 if isinstance(err, pg_errors.QueryCanceled) else 503
        return ApiError(
            status,
            explain_read_error(
                err, self.url, reader="The API", subject="this request", timeout_s=self.timeout_s
            ),
        )

    @contextmanager
    def snapshot(self) -> Iterator[psycopg2.extensions.connection]:
        """A read-only, repeatable-read connection for one request; database errors become
        ``ApiError`` (503/504) naming the cause."""
        try:
            pooled = self.engine.raw_connection()
        except sqlalchemy.exc.TimeoutError:
            raise ApiError(
                503,
                "The API is busy: every database session is in use. Try again shortly.",
                headers={"Retry-After": "1"},
            ) from None
        except psycopg2.Error as err:  # from the creator: the pool passes it on unwrapped
            raise self.explain(err) from None
        conn = pooled.driver_connection
        if conn is None:
            raise RuntimeError("the pool handed out a connection without its psycopg2 connection")
        try:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True, autocommit=False)
            yield conn
        except psycopg2.Error as err:
            if conn.closed:
                pooled.invalidate()
            raise self.explain(err) from None
        finally:
            pooled.close()  # back to the pool, which rolls the transaction back

    def dispose(self) -> None:
        self.engine.dispose()
