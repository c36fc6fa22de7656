"""/v1/symbols: the configured symbols and, per table, their first and last time and row count."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crypto_assets.api.answers import iso, json_answer
from crypto_assets.api.routing import get
from crypto_assets.warehouse.queries.catalog import series_coverage
from crypto_assets.warehouse.queries.export import CANDLES
from crypto_assets.warehouse.queries.health import TABLES

router = APIRouter(tags=["catalog"])


@get(router, "/v1/symbols", summary="Configured symbols and what the warehouse holds for each")
def symbols(request: Request) -> Response:
    """``{"symbols": [{"symbol", "tables": {table: {"first", "last", "rows"}}}], "intervals", "widths"}``:
    every configured symbol, and per table the first and last time (ISO 8601 UTC; a day for
    market_metrics_daily; null when empty) and the exact row count. ``intervals`` and ``widths``
    are what /v1/candles and /v1/downsampled accept."""
    config = request.app.state.config
    with request.app.state.warehouse.snapshot() as conn, conn.cursor() as cur:
        coverage = {
            spec.table: series_coverage(cur, spec.table, spec.time_column, config.symbols)
            for spec in TABLES
        }
    listed = [
        {
            "symbol": symbol,
            "tables": {
                table: {"first": iso(first), "last": iso(last), "rows": rows}
                for table, per_symbol in coverage.items()
                for first, last, rows in [per_symbol[symbol]]
            },
        }
        for symbol in config.symbols
    ]
    return json_answer(
        request, {"symbols": listed, "intervals": list(CANDLES), "widths": list(config.widths)}
    )
