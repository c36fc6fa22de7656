"""Dagster resources: the Binance REST client and the warehouse connection.

``definitions.py`` configures them from the environment (``BINANCE_API_URL`` through the
settings, ``DATABASE_URL`` through ``dg.EnvVar``), so the same code runs on a laptop, in
docker-compose and in tests, which pass explicit values.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import dagster as dg

from crypto_assets.binance.archive import BinanceArchiveClient
from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.settings import DEFAULT_API_URL, DEFAULT_ARCHIVE_URL
from crypto_assets.warehouse.db import connect


class BinanceResource(dg.ConfigurableResource):
    """Binance's public market-data REST API (no key needed) and its kline archive
    (``archive_url``; empty for none)."""

    base_url: str = DEFAULT_API_URL
    archive_url: str = DEFAULT_ARCHIVE_URL
    rate_limit_share: float = 0.95
    concurrency: int = 4

    @contextmanager
    def client(self) -> Iterator[BinanceRestClient]:
        limiter = WeightLimiter(share=self.rate_limit_share)
        with BinanceRestClient(self.base_url, limiter=limiter, concurrency=self.concurrency) as client:
            yield client

    @contextmanager
    def archive(self) -> Iterator[BinanceArchiveClient | None]:
        """The archive client, or None when no archive is configured."""
        if not self.archive_url:
            yield None
            return
        with BinanceArchiveClient(self.archive_url, concurrency=self.concurrency) as archive:
            yield archive


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL/TimescaleDB database every asset writes its table into."""

    database_url: str

    @contextmanager
    def transaction(self):
        """A connection whose work commits at the end, or rolls back entirely on error."""
        conn = connect(self.database_url)
        try:
            with conn:
                yield conn
        finally:
            conn.close()
