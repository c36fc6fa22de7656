"""Dagster resources: the Binance REST client and the warehouse connection.

``definitions.py`` configures them from the environment (``BINANCE_API_URL`` through the
settings, ``DATABASE_URL`` through ``dg.EnvVar``), so the same code runs on a laptop, in
docker-compose and in tests, which pass explicit values.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import dagster as dg
import psycopg2
from psycopg2.extensions import connection

from crypto_assets.binance.archive import BinanceArchiveClient
from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.rest import DEFAULT_RETRY_BUDGET_S, BinanceRestClient
from crypto_assets.settings import DEFAULT_API_URL, DEFAULT_ARCHIVE_URL
from crypto_assets.warehouse.db import connect, first_line


class BinanceResource(dg.ConfigurableResource["BinanceResource"]):
    """Binance's public market-data REST API (no key needed) and its kline archive
    (``archive_url``; empty for none)."""

    base_url: str = DEFAULT_API_URL
    archive_url: str = DEFAULT_ARCHIVE_URL
    rate_limit_share: float = 0.95
    concurrency: int = 4
    retry_budget_s: float = DEFAULT_RETRY_BUDGET_S

    @contextmanager
    def client(self) -> Iterator[BinanceRestClient]:
        """A client whose retries are logged to the run's log (``get_dagster_logger``, from every thread)."""
        limiter = WeightLimiter(share=self.rate_limit_share)
        with BinanceRestClient(
            self.base_url,
            limiter=limiter,
            concurrency=self.concurrency,
            retry_budget_s=self.retry_budget_s,
            log=dg.get_dagster_logger("binance"),
        ) as client:
            yield client

    @contextmanager
    def archive(self) -> Iterator[BinanceArchiveClient | None]:
        """The archive client, or None when no archive is configured."""
        if not self.archive_url:
            yield None
            return
        with BinanceArchiveClient(self.archive_url, concurrency=self.concurrency) as archive:
            yield archive


class WarehouseResource(dg.ConfigurableResource["WarehouseResource"]):
    """The PostgreSQL/TimescaleDB database every asset writes its table into.

    ``writers``: how many symbols a candle run writes at once, each in its own connection and
    transaction (a COPY keeps one server core busy: two use both of a 2-core machine's).
    """

    database_url: str
    writers: int = 2
    lost_connection_retries: int = 3
    lost_connection_wait_s: float = 10.0

    @contextmanager
    def transaction(self) -> Iterator[connection]:
        """A connection whose work commits at the end, or rolls back entirely on error.

        A connection lost mid-transaction (the server restarted or ended the session, the
        network dropped: psycopg2's ``OperationalError``/``InterfaceError`` with the connection
        closed) asks Dagster to retry the step (``dg.RetryRequested``) after
        ``lost_connection_wait_s``, up to ``lost_connection_retries`` times; the work is
        idempotent, so a retry writes what the lost transaction would have. The error that
        reaches the run is the one that lost the connection (say ``AdminShutdown``), never the
        ``connection already closed`` of the rollback that follows it.
        """
        conn = connect(self.database_url)  # retries a few times itself; then names the URL
        try:
            yield conn
            conn.commit()
        except BaseException as err:
            if not conn.closed:
                with suppress(psycopg2.Error):
                    conn.rollback()
            if (
                isinstance(err, (psycopg2.OperationalError, psycopg2.InterfaceError))
                and conn.closed
            ):
                raise self._retry(err) from err
            raise
        finally:
            conn.close()

    def _retry(self, err: Exception) -> dg.RetryRequested:
        dg.get_dagster_logger("warehouse").warning(
            f"lost the database connection ({type(err).__name__}: {first_line(err)});"
            f" retrying the step in {self.lost_connection_wait_s:g} s"
        )
        return dg.RetryRequested(
            max_retries=self.lost_connection_retries, seconds_to_wait=self.lost_connection_wait_s
        )
