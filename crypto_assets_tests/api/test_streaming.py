"""A long range streams whole and in bounded memory: when its client stops reading, the server
stops reading PostgreSQL a few batches in instead of loading the range, and its memory stays
far below the size of the download."""

from __future__ import annotations

import io
import re
import socket
from datetime import datetime
from pathlib import Path

import httpx
import polars as pl
import pytest

from crypto_assets_tests.stream.helpers import query, wait_until

MB = 1 << 20
_WINDOW = re.compile(r"\"open_time\" >= '([^']+)'::timestamptz")


def rss(pid: int) -> int:
    """The server process's resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def stalled_read(url: str) -> datetime | None:
    """Where the API's open download stopped reading: the start of its last COPY window, once
    its session has been idle in its transaction for a second (None before that)."""
    rows = query(
        url,
        "SELECT query FROM pg_stat_activity WHERE application_name = 'crypto-api'"
        " AND state = 'idle in transaction' AND now() - state_change > interval '1 second'",
    )
    if len(rows) != 1 or not (match := _WINDOW.search(rows[0][0])):
        return None
    return datetime.fromisoformat(match.group(1))


def rows_in(fmt: str, body: bytes) -> int:
    if fmt == "csv":
        return body.count(b"\n") - 1
    return (
        pl.read_ipc_stream(body) if fmt == "arrow" else pl.read_parquet(io.BytesIO(body))
    ).height


@pytest.mark.parametrize("fmt", ["csv", "arrow", "parquet"])
def test_a_client_that_stops_reading_stops_the_server_reading(fmt, api_server, api_market):
    ((first, last, count),) = query(
        api_market.url,
        "SELECT min(open_time), max(open_time), count(*) FROM candles_1m WHERE symbol = 'BTCUSDT'",
    )
    transport = httpx.HTTPTransport(
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)]
    )
    with httpx.Client(base_url=api_server.url, transport=transport, timeout=60) as client:
        warm = client.get(
            "/v1/candles/BTCUSDT", params={"format": fmt, "end": "2025-01-15"}
        )  # imports, pools, buffers
        assert warm.status_code == 200
        baseline = rss(api_server.pid)
        with client.stream("GET", "/v1/candles/BTCUSDT", params={"format": fmt}) as response:
            chunks = response.iter_bytes()
            body = [next(chunks)]
            reached = wait_until(
                lambda: stalled_read(api_market.url),
                "the API to stop reading while its client waits",
            )
            held = rss(api_server.pid) - baseline
            body += list(chunks)
    received = b"".join(body)
    share = (reached - first) / (last - first)
    print(
        f"{fmt}: {len(received) / MB:.1f} MB; reads stopped at {share:.0%} of the range, holding {held / MB:.1f} MB"
    )
    assert rows_in(fmt, received) == count > 97_000  # then the whole range arrived
    # A server loading the range would have read its last window (past 95 %); this one stops once the
    # socket buffers and its read-ahead are full (about a third of CSV or Arrow, more of compressed Parquet).
    assert share < 0.85
    assert held < 8 * MB  # the whole range is over 17 MB as CSV or Arrow
