"""/v1/health: what the dashboard's Data health page shows, plus the collector's heartbeat and
one ``status`` for load balancers: ``ok`` (200), ``degraded`` (200: the API serves, but data is
stale, missing or not streaming) or ``down`` (503: the warehouse cannot be read)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from crypto_assets.api.answers import collector, iso
from crypto_assets.api.caching import NO_STORE
from crypto_assets.api.errors import ApiError
from crypto_assets.api.params import Window
from crypto_assets.api.routing import get
from crypto_assets.warehouse.queries import live
from crypto_assets.warehouse.queries.buckets import age
from crypto_assets.warehouse.queries.health import HealthView, TableHealth, health_view

router = APIRouter(tags=["health"])
WINDOWS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _table(table: TableHealth) -> dict:
    counts_gaps = table.spec.step is not None or table.spec.step_in_key
    return {
        "table": table.spec.table,
        "rows": table.rows,
        "rows_exact": table.rows_exact,
        "first": iso(table.first),
        "last": iso(table.last),
        "age_s": None if table.age is None else table.age.total_seconds(),
        "fresh_within_s": table.spec.fresh_within.total_seconds(),
        "fresh": table.fresh,
        "missing": table.missing if counts_gaps else None,
        "filled_by": table.spec.fill,
        "series": [
            {k: iso(v) if k in ("first", "last") else v for k, v in row.items()}
            for row in table.series.iter_rows(named=True)
        ],
    }


def problems(view: HealthView, connections: pl.DataFrame, window: str) -> list[str]:
    """Everything that makes the data less than complete and current, one sentence each."""
    found = []
    for table in view.tables:
        name = table.spec.table
        if table.fresh is None:
            found.append(f"{name} is empty (filled by {table.spec.fill})")
        elif not table.fresh:
            found.append(
                f"{name}: newest row is {age(table.age)} old (fresh within {age(table.spec.fresh_within)})"
            )
        if table.missing:
            gaps = table.series.filter(pl.col("missing") > 0)
            found.append(
                f"{name}: {table.missing} missing in the last {window} ("
                + ", ".join(f"{s}: {n}" for s, n in gaps.select("series", "missing").iter_rows())
                + ")"
            )
    state = live.stream_state(connections)
    if state != "healthy":
        lag = live.worst_lag(connections)
        found.append(
            f"stream collector is {state}"
            + (f" (last message {age(lag)} ago)" if lag is not None else "")
        )
    return found


def report(view: HealthView, connections: pl.DataFrame, window: str) -> dict:
    found = problems(view, connections, window)
    return {
        "status": "degraded" if found else "ok",
        "now": iso(view.now),
        "window": window,
        "problems": found,
        "tables": [_table(t) for t in view.tables],
        "collector": collector(connections),
    }


@get(
    router,
    "/v1/health",
    summary="Freshness, missing candles, the collector, and one status",
    responses={503: {"description": "down: the warehouse cannot be read"}},
)
def health(request: Request, window: Window = "7d") -> JSONResponse:
    """``{"status", "now", "window", "problems", "tables": [...], "collector"}``. Per table: rows,
    first, last, age_s, fresh (its newest row within fresh_within_s), missing candles in the
    window and per series (symbol, or symbol and window width) the same. ``status``: ``ok``
    when nothing is listed in ``problems``, ``degraded`` otherwise (both HTTP 200), ``down``
    with HTTP 503 when the warehouse cannot be read."""
    try:
        with request.app.state.warehouse.snapshot() as conn:
            view = health_view(conn, WINDOWS[window])
            with conn.cursor() as cur:
                connections = live.collector_connections(cur)
    except ApiError as err:
        if err.status not in (503, 504):
            raise
        return JSONResponse({"status": "down", "detail": err.detail}, 503, headers=NO_STORE)
    return JSONResponse(report(view, connections, window), 200, headers=NO_STORE)
