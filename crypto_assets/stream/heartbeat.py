"""The collector's heartbeat in ``stream_heartbeats``: one row per connection, and reading it back.

Each write stamps ``updated_at`` with the database's clock (the collector is alive) next to the
connection's own figures: how many streams it carries, when it connected, its last message
(data is flowing), how often it reconnected, how many malformed messages it skipped, what it
dropped by reason (``dropped``: malformed messages by kind, rows lost to a full buffer or
refused by the database) and which of its configured symbols it does not stream and why
(``not_streaming``: their exchange status). The dashboard, the docker healthcheck
(``crypto stream --healthcheck``) and the ``candles_1m`` freshness check read these rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from psycopg2.extensions import cursor
from psycopg2.extras import Json, execute_values

from crypto_assets.binance.stream import ConnectionStats
from crypto_assets.warehouse.db import scalar

_UPSERT = (
    "INSERT INTO stream_heartbeats (connection_id, streams, connected_at, last_message_at, reconnect_count,"
    " malformed_count, dropped, not_streaming, updated_at) VALUES %s ON CONFLICT (connection_id) DO UPDATE SET"
    " streams = EXCLUDED.streams, connected_at = EXCLUDED.connected_at, last_message_at = EXCLUDED.last_message_at,"
    " reconnect_count = EXCLUDED.reconnect_count, malformed_count = EXCLUDED.malformed_count,"
    " dropped = EXCLUDED.dropped, not_streaming = EXCLUDED.not_streaming, updated_at = now()"
)
FORGET_OTHERS = "DELETE FROM stream_heartbeats WHERE NOT (connection_id = ANY(%s))"
LAST_SAMPLES = (
    "SELECT s.symbol, (extract(epoch FROM last.sampled_at) * 1000)::bigint FROM unnest(%s::text[]) AS s(symbol)"
    " CROSS JOIN LATERAL (SELECT sampled_at FROM price_samples p WHERE p.symbol = s.symbol"
    " ORDER BY sampled_at DESC LIMIT 1) AS last"
)


def upsert(cur: cursor, connections: Sequence[ConnectionStats]) -> None:
    """Write one heartbeat row per connection (inside the caller's transaction)."""
    rows = [
        (
            c.connection_id,
            c.streams,
            _timestamp(c.connected_at),
            _timestamp(c.last_message_at),
            c.reconnect_count,
            c.malformed_count,
            Json(dict(c.dropped)),
            Json(c.not_streaming),
        )
        for c in connections
    ]
    execute_values(cur, _UPSERT, rows, template="(%s, %s, %s, %s, %s, %s, %s, %s, now())")


def _timestamp(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, tz=UTC)


@dataclass(frozen=True)
class ConnectionHealth:
    """One heartbeat row read back: ages in seconds by the database's clock (None: never)."""

    connection_id: str
    streams: int
    heartbeat_age_s: float
    message_age_s: float | None
    reconnect_count: int
    malformed_count: int
    not_streaming: dict[str, str]

    def healthy(self, max_age_s: float) -> bool:
        """The collector is alive and, when the connection carries streams, messages flow (one
        whose every symbol is not trading has nothing to say)."""
        if self.heartbeat_age_s > max_age_s:
            return False
        return self.streams == 0 or (
            self.message_age_s is not None and self.message_age_s <= max_age_s
        )


def read_health(cur: cursor) -> list[ConnectionHealth]:
    """Every connection's heartbeat, oldest message first."""
    cur.execute(
        "SELECT connection_id, streams, extract(epoch FROM now() - updated_at)::float8,"
        " extract(epoch FROM now() - last_message_at)::float8, reconnect_count, malformed_count, not_streaming"
        " FROM stream_heartbeats ORDER BY last_message_at NULLS FIRST, connection_id"
    )
    return [ConnectionHealth(*row) for row in cur.fetchall()]


def collector_running(cur: cursor, within_s: float) -> bool:
    """Whether a collector wrote a heartbeat in the last ``within_s`` seconds."""
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM stream_heartbeats WHERE updated_at > now() - make_interval(secs => %s))",
        (within_s,),
    )
    return bool(scalar(cur))
