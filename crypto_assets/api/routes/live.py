"""/v1/live/{symbol}: the forming 1m candle, the last closed one and the stream's lag, now;
/v1/live/{symbol}/events: the same as server-sent events, one each time the collector writes.

The collector writes candles and heartbeats every fraction of a second; the event stream
polls the newest rows (index probes, about a millisecond) every ``live_poll_s`` and sends an
event when they changed, a comment line every ``live_keepalive_s`` otherwise (so proxies keep
the connection), and an ``error`` event while the database cannot be read.
"""

from __future__ import annotations

import json
import time

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from crypto_assets.api.answers import collector, iso
from crypto_assets.api.caching import NO_STORE
from crypto_assets.api.errors import ApiError, error_body
from crypto_assets.api.params import SymbolPath, check_symbol
from crypto_assets.api.routing import get
from crypto_assets.warehouse.db import scalar
from crypto_assets.warehouse.queries import live
from crypto_assets.warehouse.queries.buckets import age

router = APIRouter(tags=["live"])
RETRY_MS = 2_000
_SNAPSHOT_DOC = (
    '``{"symbol", "now", "forming", "last_closed", "stream": {"state", "lag_s", "connections"}}``: '
    "``forming`` is the newest 1m candle while it is not closed (else null), ``last_closed`` the newest closed one, "
    "both with the columns of /v1/candles?interval=1m. ``stream.state`` is healthy (every collector connection "
    f"heard from within {age(live.LAG_HEALTHY)}), lagging, stalled (silent over {age(live.LAG_STALLED)}) or "
    "stopped (no heartbeat); ``lag_s`` is the worst connection's seconds since its last message, by the "
    "database's clock."
)


def read_live(warehouse, symbol: str) -> tuple[str, tuple]:
    """(the live snapshot as JSON text, what identifies the collector's latest write)."""
    with warehouse.snapshot() as conn, conn.cursor() as cur:
        cur.execute("SELECT now()")
        now = scalar(cur)
        forming, closed = live.newest_candles(cur, symbol)
        connections = live.collector_connections(cur)
    head = json.dumps({"symbol": symbol, "now": iso(now)})[:-1]
    text = (
        f'{head}, "forming": {forming or "null"}, "last_closed": {closed or "null"}, '
        f'"stream": {json.dumps(collector(connections))}}}'
    )
    written = tuple(
        connections.select("connection_id", "updated_at", "last_message_at").iter_rows()
    )
    return text, (forming, closed, written)


@get(
    router,
    "/v1/live/{symbol}",
    summary="The forming 1m candle, the last closed one, the stream's lag",
    description=_SNAPSHOT_DOC,
)
def live_now(request: Request, symbol: SymbolPath) -> Response:
    check_symbol(symbol, request.app.state.config.symbols)
    text, _ = read_live(request.app.state.warehouse, symbol)
    return Response(text, media_type="application/json", headers=NO_STORE)


@get(
    router,
    "/v1/live/{symbol}/events",
    summary="Live snapshots as server-sent events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "An event stream."}},
)
async def live_events(request: Request, symbol: SymbolPath) -> Response:
    """Server-sent events: ``event: live`` with the /v1/live/{symbol} snapshot each time the
    collector writes (the first one at once), ``event: error`` while the database cannot be
    read (the stream keeps trying), and a ``: keep-alive`` comment when nothing happened for a while."""
    config = request.app.state.config
    check_symbol(symbol, config.symbols)
    headers = {**NO_STORE, "X-Accel-Buffering": "no"}
    if request.method == "HEAD":
        return StreamingResponse(iter(()), headers=headers, media_type="text/event-stream")
    warehouse = request.app.state.warehouse

    async def events():
        yield f"retry: {RETRY_MS}\n\n"
        seen, quiet_since = None, time.monotonic()
        while not await request.is_disconnected():  # stop polling for a client that left
            try:
                text, written = await anyio.to_thread.run_sync(read_live, warehouse, symbol)
                event = f"event: live\ndata: {text}\n\n"
            except ApiError as err:
                written = ("error", err.detail)
                event = f"event: error\ndata: {json.dumps(error_body(err.detail))}\n\n"
            if written != seen:
                seen, quiet_since = written, time.monotonic()
                yield event
            elif time.monotonic() - quiet_since >= config.live_keepalive_s:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            await anyio.sleep(config.live_poll_s)

    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
