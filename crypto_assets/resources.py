"""Dagster resources: the Binance REST client and the warehouse connection.

``definitions.py`` configures them from the environment (``BINANCE_API_URL`` through the
settings, ``DATABASE_URL`` through ``dg.EnvVar``), so the same code runs on a laptop, in
docker-compose and in tests, which pass explicit values.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import dagster as dg

from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.rest import DEFAULT_RETRY_BUDGET_S, BinanceRestClient
from crypto_assets.settings import DEFAULT_API_URL
from crypto_assets.warehouse.db import connect


class BinanceResource(dg.ConfigurableResource):
    """Binance's public market-data REST API (no key needed)."""

    base_url: str = DEFAULT_API_URL
    rate_limit_share: float = 0.95
    concurrency: int = 4
    retry_budget_s: float = DEFAULT_RETRY_BUDGET_S

    @contextmanager
    def client(self) -> Iterator[BinanceRestClient]:
        """A client whose retries are logged to the run's log (``get_dagster_logger``, from every thread)."""
        limiter = WeightLimiter(share=self.rate_limit_share)
        with BinanceRestClient(
            self.base_url, limiter=limiter, concurrency=self.concurrency, retry_budget_s=self.retry_budget_s,
            log=dg.get_dagster_logger("binance"),
        ) as client:
            yield client


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
