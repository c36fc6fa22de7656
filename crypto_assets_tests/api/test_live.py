"""/v1/live: the forming candle, the last closed one and the stream's lag as the tables hold them;
/v1/live/{symbol}/events: a server-sent event each time the running collector writes."""

from __future__ import annotations

import itertools
import json
import time

import httpx

from crypto_assets_tests.api.conftest import SYMBOLS, api_config, readonly, serving
from crypto_assets_tests.api.expected import as_json, expected_state, iso, table_rows
from crypto_assets_tests.plugins.postgres import new_database
from crypto_assets_tests.stream.fixtures import stream_simulator  # noqa: F401 (fixture)
from crypto_assets_tests.stream.helpers import CollectorThread, query


def newest(url: str, symbol: str, closed_only: bool) -> dict:
    rows = table_rows(
        url,
        "candles_1m",
        "symbol = %(symbol)s" + (" AND is_closed" if closed_only else ""),
        {"symbol": symbol},
        "open_time DESC LIMIT 1",
    )
    return as_json(rows[0])


def test_the_snapshot_is_the_newest_rows_and_the_heartbeat(api_market, client):
    body = client.get("/v1/live/ETHUSDT").json()
    forming = newest(api_market.url, "ETHUSDT", closed_only=False)
    assert (
        forming["is_closed"] is False and body["forming"] == forming
    )  # the collector stopped mid-minute
    assert body["last_closed"] == newest(api_market.url, "ETHUSDT", closed_only=True)
    (heartbeat,) = query(
        api_market.url, "SELECT connection_id, streams, last_message_at FROM stream_heartbeats"
    )
    (connection,) = body["stream"]["connections"]
    assert (connection["connection_id"], connection["streams"], connection["last_message_at"]) == (
        heartbeat[0],
        heartbeat[1],
        iso(heartbeat[2]),
    )
    assert body["stream"]["lag_s"] == connection["lag_s"] > 0
    assert body["stream"]["state"] == expected_state(body["stream"]["lag_s"])


def read_events(url: str, enough, timeout_s: float = 30) -> list[tuple[str | None, dict]]:
    """The events (name, data) of an event stream, up to the first for which ``enough(events)``."""
    events, name, deadline = [], None, time.monotonic() + timeout_s
    with httpx.stream("GET", url, timeout=timeout_s) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
                if enough(events):
                    return events
            assert time.monotonic() < deadline, f"not enough in {timeout_s} s: {events}"
    raise AssertionError(f"the stream ended after {len(events)} events")


def test_events_follow_the_collectors_writes(stream_simulator, db_url):  # noqa: F811 (the imported fixture)
    with serving(api_config(readonly(db_url), live_poll_s=0.05)) as base:
        collector = CollectorThread.start(stream_simulator, db_url, symbols=SYMBOLS)
        try:
            events = read_events(
                f"{base}/v1/live/BTCUSDT/events",  # a few, past a minute's close
                lambda seen: len(seen) >= 4 and seen[-1][1]["last_closed"] is not None,
            )
        finally:
            collector.stop()
    assert {name for name, _ in events} == {"live"}
    written = [(e["forming"], e["last_closed"], e["stream"]["connections"]) for _, e in events]
    assert all(
        a != b for a, b in itertools.pairwise(written)
    )  # an event only when something was written
    assert events[-1][1]["forming"] is not None and events[-1][1]["stream"]["state"] == "healthy"
    closed = [e["last_closed"] for _, e in events if e["last_closed"] is not None]
    assert closed, "no minute closed while listening"
    stored = {
        c["open_time"]: c
        for c in (
            as_json(r)
            for r in table_rows(
                db_url, "candles_1m", "symbol = 'BTCUSDT' AND is_closed", {}, "open_time"
            )
        )
    }
    assert all(
        stored[c["open_time"]] == c for c in closed
    )  # closed minutes are final: equal to the table now


def test_events_report_an_unreadable_database_and_keep_going(pg_server):
    url = new_database(pg_server, "api_no_schema")  # no tables: every read fails
    with (
        serving(api_config(url, live_poll_s=0.05, live_keepalive_s=0.2)) as base,
        httpx.stream("GET", f"{base}/v1/live/BTCUSDT/events", timeout=30) as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "retry: 2000"
        seen = []
        for line in lines:
            seen.append(line)
            if line == ": keep-alive":
                break
    (error,) = [
        json.loads(line.removeprefix("data: ")) for line in seen if line.startswith("data: ")
    ]
    assert (
        "event: error" in seen
        and "no table for this request" in error["detail"]
        and "crypto migrate" in error["detail"]
    )
