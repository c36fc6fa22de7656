"""The FastAPI application: routes, error handling, tokens, and the database pool's lifetime."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from crypto_assets.api import errors
from crypto_assets.api.auth import require_token
from crypto_assets.api.config import ApiConfig
from crypto_assets.api.database import Warehouse
from crypto_assets.api.routes import catalog, health, live, series

DESCRIPTION = """Read-only access to the crypto-assets warehouse: candles, downsampled prices,
daily metrics, the live stream and the platform's health.

Prices and quantities are **decimal strings exactly as stored** (never floats), times ISO 8601
UTC. Ranges are `[start, end)`. JSON answers come in pages of `limit` rows with `next_cursor`;
`format=csv|arrow|parquet` streams the whole range. Closed ranges (ending by today's midnight
UTC) may be cached; every answer has an ETag, so asking again with `If-None-Match` costs a 304.
Errors are JSON: `{"detail", "parameter", "allowed"}`."""


def create_app(config: ApiConfig) -> FastAPI:
    """The API for ``config``; its database pool closes when the server shuts down."""
    warehouse = Warehouse(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        warehouse.dispose()

    app = FastAPI(
        title="crypto-assets analytics API", version="1", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.config = config
    app.state.warehouse = warehouse
    errors.install(app)
    for routes in (catalog, series, live, health):
        app.include_router(routes.router, dependencies=[Depends(require_token)])
    return app
