"""The Live page (and the API's live endpoints): last price and its 24-hour change, the forming
1m candle, the last hour of 1m candles and the stream collector's heartbeats (lag, reconnects,
configured symbols it does not stream and why, what it dropped by reason).

All lookups walk the ``(symbol, time)`` keys backwards from the newest row, so the page costs
the same on a day or a year of data. "Now" is the database's clock, the one the collector's
heartbeats are written with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from crypto_assets.warehouse.db import scalar
from crypto_assets.warehouse.queries.catalog import series_bounds
from crypto_assets.warehouse.queries.export import CANDLES, json_object
from crypto_assets.warehouse.queries.frames import TIME, ColumnTypes, fetch_frame

CHANGE_OVER = timedelta(hours=24)
HOUR = timedelta(hours=1)
LAG_HEALTHY = timedelta(seconds=15)
"""A stream whose every connection was heard from within this is healthy."""
LAG_STALLED = timedelta(minutes=2)
"""Past this, a connection's silence makes the stream stalled (in between: lagging)."""

_CANDLES: ColumnTypes = {
    "time": TIME,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
    "is_closed": pl.Boolean,
    "source": pl.String,
}
_HEARTBEATS: ColumnTypes = {
    "connection_id": pl.String,
    "streams": pl.Int64,
    "connected_at": TIME,
    "last_message_at": TIME,
    "lag_s": pl.Float64,
    "reconnect_count": pl.Int64,
    "malformed_count": pl.Int64,
    "updated_at": TIME,
}
_NOT_STREAMING: ColumnTypes = {"symbol": pl.String, "status": pl.String, "connection_id": pl.String}
_DROPS: ColumnTypes = {"reason": pl.String, "count": pl.Int64}


@dataclass(frozen=True)
class LiveView:
    """``last_hour``: the symbol's 1m candles of the hour up to its newest one (time, OHLC,
    volume, is_closed, source); ``connections``: one row per collector connection;
    ``not_streaming``: configured symbols the collector does not stream (symbol, status: why,
    connection_id); ``drops``: what it dropped (malformed messages, refused or overflowed rows),
    by reason, over every connection."""

    symbol: str
    now: datetime
    last_price: float | None
    last_price_at: datetime | None
    reference_price: float | None
    last_hour: pl.DataFrame
    connections: pl.DataFrame
    not_streaming: pl.DataFrame
    drops: pl.DataFrame

    @property
    def change_pct(self) -> float | None:
        """Change of the last price over ``CHANGE_OVER``, in percent."""
        if self.last_price is None or not self.reference_price:
            return None
        return (self.last_price / self.reference_price - 1) * 100

    @property
    def forming(self) -> dict[str, Any] | None:
        """The newest 1m candle when it is still open (its minute is forming), else None."""
        if self.last_hour.is_empty() or self.last_hour["is_closed"][-1]:
            return None
        return self.last_hour.row(-1, named=True)


def _latest_sample(cur: cursor, symbol: str) -> tuple[datetime | None, float | None]:
    cur.execute(
        "SELECT sampled_at, price::float8 FROM price_samples WHERE symbol = %s ORDER BY sampled_at DESC LIMIT 1",
        (symbol,),
    )
    row = cur.fetchone()
    return (row[0], row[1]) if row else (None, None)


def _reference_price(cur: cursor, symbol: str, at: datetime) -> float | None:
    """The close of the 1m candle open ``CHANGE_OVER`` before ``at`` (within an hour of it)."""
    cur.execute(
        "SELECT close::float8 FROM candles_1m WHERE symbol = %(symbol)s AND open_time <= %(target)s"
        " AND open_time > %(target)s - %(slack)s ORDER BY open_time DESC LIMIT 1",
        {"symbol": symbol, "target": at - CHANGE_OVER, "slack": HOUR},
    )
    row = cur.fetchone()
    return row[0] if row else None


def collector_connections(cur: cursor) -> pl.DataFrame:
    """One row per collector connection: connection_id, streams, connected_at, last_message_at,
    lag_s (seconds since its last message, by the database's clock; null: none yet),
    reconnect_count, malformed_count, updated_at (its last heartbeat)."""
    return fetch_frame(
        cur,
        "SELECT connection_id, streams, connected_at, last_message_at,"
        " extract(epoch FROM now() - last_message_at)::float8, reconnect_count, malformed_count, updated_at"
        " FROM stream_heartbeats ORDER BY connection_id",
        None,
        _HEARTBEATS,
    )


def worst_lag(connections: pl.DataFrame) -> timedelta | None:
    """The longest silence of any connection; None without connections, or when one has never
    received a message."""
    if connections.is_empty() or connections["lag_s"].null_count():
        return None
    lag = connections["lag_s"].max()
    if not isinstance(lag, int | float):
        raise TypeError(f"lag_s holds {type(lag).__name__}, not seconds")
    return timedelta(seconds=lag)


def stream_state(connections: pl.DataFrame) -> str:
    """'stopped' (no heartbeat row), 'healthy', 'lagging' or 'stalled', by the worst lag."""
    if connections.is_empty():
        return "stopped"
    lag = worst_lag(connections)
    if lag is None or lag > LAG_STALLED:
        return "stalled"
    return "healthy" if lag <= LAG_HEALTHY else "lagging"


def newest_candles(cur: cursor, symbol: str) -> tuple[str | None, str | None]:
    """(the forming 1m candle, the newest closed one) as JSON objects with exact values, each
    None when there is none. The forming candle is the newest row when it is not closed."""
    series = CANDLES["1m"]
    query = sql.SQL(
        "SELECT (SELECT CASE WHEN NOT is_closed THEN {obj}::text END FROM candles_1m WHERE symbol = %(symbol)s"
        "  ORDER BY open_time DESC LIMIT 1),"
        " (SELECT {obj}::text FROM candles_1m WHERE symbol = %(symbol)s AND is_closed ORDER BY open_time DESC LIMIT 1)"
    ).format(obj=json_object(series))
    cur.execute(query, {"symbol": symbol})
    ((forming, closed),) = cur.fetchall()
    return forming, closed


def live_view(conn: connection, symbol: str) -> LiveView:
    """Everything the Live page shows for ``symbol``."""
    with conn.cursor() as cur:
        cur.execute("SELECT now()")
        now = scalar(cur)
        _, newest = series_bounds(cur, "candles_1m", "open_time", {"symbol": symbol})
        last_hour = fetch_frame(  # the bound is a value, not a subquery: the planner then uses the index range
            cur,
            "SELECT open_time, open::float8, high::float8, low::float8, close::float8, volume::float8,"
            " is_closed, source FROM candles_1m WHERE symbol = %(symbol)s AND open_time > %(since)s"
            " ORDER BY open_time",
            {"symbol": symbol, "since": (newest or now) - HOUR},
            _CANDLES,
        )
        sample_at, sample_price = _latest_sample(cur, symbol)
        if sample_at is None or (not last_hour.is_empty() and sample_at < last_hour["time"][-1]):
            last_at = None if last_hour.is_empty() else last_hour["time"][-1]
            last_price = None if last_hour.is_empty() else last_hour["close"][-1]
        else:
            last_at, last_price = sample_at, sample_price
        reference = None if last_at is None else _reference_price(cur, symbol, last_at)
        connections = collector_connections(cur)
        not_streaming = fetch_frame(
            cur,
            "SELECT n.key, n.value, h.connection_id FROM stream_heartbeats h"
            " CROSS JOIN LATERAL jsonb_each_text(h.not_streaming) AS n ORDER BY 1",
            None,
            _NOT_STREAMING,
        )
        drops = fetch_frame(
            cur,
            "SELECT d.key, sum(d.value::bigint)::bigint FROM stream_heartbeats h CROSS JOIN "
            "LATERAL jsonb_each_text(h.dropped) AS d"
            " GROUP BY 1 ORDER BY 2 DESC, 1",
            None,
            _DROPS,
        )
    return LiveView(
        symbol, now, last_price, last_at, reference, last_hour, connections, not_streaming, drops
    )
