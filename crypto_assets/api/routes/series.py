"""/v1/candles, /v1/downsampled and /v1/metrics: one symbol's rows of a table over [start, end).

Every row is an object (JSON) or a line (CSV) with the table's column names; prices and
quantities are decimal strings exactly as stored, times ISO 8601 UTC strings. The three share
their rules (``rows.serve_rows``): pages of at most ``limit`` rows in JSON with ``next_cursor``,
whole ranges streamed in csv, arrow and parquet.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crypto_assets.api.errors import bad_parameter
from crypto_assets.api.params import (
    Cursor,
    End,
    Format,
    Interval,
    Limit,
    Start,
    SymbolPath,
    Width,
    check_symbol,
    time_range,
)
from crypto_assets.api.routing import get
from crypto_assets.api.rows import serve_rows
from crypto_assets.warehouse.queries import export

router = APIRouter(tags=["series"])

_ROWS = {
    200: {
        "description": "JSON page, or the whole range streamed as CSV, Arrow or Parquet.",
        "content": {
            "text/csv": {},
            "application/vnd.apache.arrow.stream": {},
            "application/vnd.apache.parquet": {},
        },
    }
}


@get(router, "/v1/candles/{symbol}", summary="Candles of one symbol", responses=_ROWS)
def candles(
    request: Request,
    symbol: SymbolPath,
    interval: Interval = "1m",
    start: Start = None,
    end: End = None,
    limit: Limit = None,
    cursor: Cursor = None,
    format: Format = "json",
) -> Response:
    """Candles with ``open_time`` in [start, end): ``{"symbol", "interval", "candles": [...], "next_cursor"}``.

    Each candle has the columns of its table: symbol, open_time, close_time, open, high, low,
    close, volume, quote_volume, trade_count, taker_buy_base_volume, taker_buy_quote_volume;
    1m adds is_closed and source; 1h and 1d add vwap, source_candles, is_complete and
    source_interval.
    """
    check_symbol(symbol, request.app.state.config.symbols)
    lo, hi = time_range(start, end)
    selection = export.Selection.over(export.CANDLES[interval], symbol, lo, hi)
    return serve_rows(
        request,
        selection,
        envelope={"symbol": symbol, "interval": interval},
        rows_name="candles",
        fmt=format,
        limit=limit,
        cursor=cursor,
        end=hi,
    )


@get(
    router,
    "/v1/downsampled/{symbol}",
    summary="Downsampled price windows of one symbol",
    responses=_ROWS,
)
def downsampled(
    request: Request,
    symbol: SymbolPath,
    width: Width = None,
    start: Start = None,
    end: End = None,
    limit: Limit = None,
    cursor: Cursor = None,
    format: Format = "json",
) -> Response:
    """Windows of ``price_downsampled`` with ``bucket_start`` in [start, end):
    ``{"symbol", "width", "windows": [...], "next_cursor"}``; each window has symbol,
    bucket_start, bucket_width, avg_price, median_price, min_price, max_price, sample_count.
    """
    config = request.app.state.config
    check_symbol(symbol, config.symbols)
    label = width if width is not None else next(iter(config.widths), None)
    if label not in config.widths:
        raise bad_parameter(
            "width",
            f"{width!r} is not a configured window width (downsample_windows)",
            allowed=list(config.widths),
        )
    lo, hi = time_range(start, end)
    selection = export.Selection.over(
        export.DOWNSAMPLED, symbol, lo, hi, width=config.widths[label], width_label=label
    )
    return serve_rows(
        request,
        selection,
        envelope={"symbol": symbol, "width": label},
        rows_name="windows",
        fmt=format,
        limit=limit,
        cursor=cursor,
        end=hi,
    )


@get(router, "/v1/metrics/{symbol}", summary="Daily market metrics of one symbol", responses=_ROWS)
def metrics(
    request: Request,
    symbol: SymbolPath,
    start: Start = None,
    end: End = None,
    limit: Limit = None,
    cursor: Cursor = None,
    format: Format = "json",
) -> Response:
    """Rows of ``market_metrics_daily`` for the UTC days whose midnight is in [start, end):
    ``{"symbol", "metrics": [...], "next_cursor"}``; each has symbol, day, open, close,
    previous_close, simple_return, log_return, realized_volatility, realized_volatility_annualized,
    range_pct, volume, quote_volume, trade_count, minutes_observed (returns and volatilities are
    stored as double precision and sent as numbers).
    """
    check_symbol(symbol, request.app.state.config.symbols)
    lo, hi = time_range(start, end)
    selection = export.Selection.over(export.METRICS, symbol, lo, hi)
    return serve_rows(
        request,
        selection,
        envelope={"symbol": symbol},
        rows_name="metrics",
        fmt=format,
        limit=limit,
        cursor=cursor,
        end=hi,
    )
