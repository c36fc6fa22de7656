"""Small JSON answers (symbols, live, health): values written the way the row exports write them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
from fastapi import Request, Response

from crypto_assets.api import caching
from crypto_assets.warehouse.queries import live


def iso(value: datetime | date | None) -> str | None:
    """A time as ISO 8601 UTC with milliseconds (2024-03-08T00:14:59.999Z, as ``export.ISO_UTC``
    writes it), a day as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.isoformat()


def json_answer(request: Request, payload: dict, *, cache_control: str = "no-cache") -> Response:
    """``payload`` as JSON with a strong ETag (304 when the client holds it)."""
    body = json.dumps(payload).encode()
    headers = {"Cache-Control": cache_control, "ETag": caching.strong_etag(body)}
    if caching.matches(request, headers["ETag"]):
        return caching.not_modified(headers)
    return Response(body, media_type="application/json", headers=headers)


def collector(connections: pl.DataFrame) -> dict:
    """The stream collector as the live and health answers show it: its state, the worst lag in
    seconds and one entry per connection (``live.collector_connections``)."""
    lag = live.worst_lag(connections)
    return {
        "state": live.stream_state(connections),
        "lag_s": None if lag is None else lag.total_seconds(),
        "connections": [
            {k: iso(v) if k.endswith("_at") else v for k, v in row.items()}
            for row in connections.iter_rows(named=True)
        ],
    }
