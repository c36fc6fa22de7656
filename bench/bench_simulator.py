"""How fast the Binance simulator serves 1m klines pages.

1. In process, no HTTP: CPU time to build a fresh 1000-row 1m page (generation + JSON encoding,
   nothing cached) and to serve one again from the block cache.
2. Over HTTP, limits off, the simulator in its own process (``python -m ...simulator``, as the
   ``crypto simulator`` command runs it): one client (httpx, keep-alive, JSON decoded) pages
   through a year of 1m candles for two symbols, as a backfill does (about 1050 pages),
   sequentially and with 4 requests in flight; with the server's CPU time per page.

    uv run python -m bench.bench_simulator [--days 365] [--symbols BTCUSDT,ETHUSDT]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.harness import simulator_process
from crypto_assets.binance.simulator.klines import KlineStore
from crypto_assets.binance.simulator.symbols import build_universe
from crypto_assets.binance.wire import DAY_MS, MINUTE_MS

START_MS = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
PAGE = 1000


def in_process(pages: int) -> None:
    spec = build_universe()["BTCUSDT"]
    store = KlineStore()
    now = START_MS + 4 * 365 * DAY_MS
    started = time.process_time()
    for page in range(pages):
        store.klines(
            spec, "1m", start=START_MS + page * PAGE * MINUTE_MS, end=None, limit=PAGE, now=now
        )
    fresh = (time.process_time() - started) / pages
    started = time.process_time()
    for _ in range(pages):
        store.klines(spec, "1m", start=START_MS, end=None, limit=PAGE, now=now)
    cached = (time.process_time() - started) / pages
    print(
        f"in process: fresh 1000-row 1m page {fresh * 1000:.2f} ms CPU, cached page {cached * 1000:.3f} ms CPU"
    )


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fetch(client: httpx.Client, symbol: str, start: int, end: int) -> int:
    response = client.get(
        "/api/v3/klines",
        params={
            "symbol": symbol,
            "interval": "1m",
            "startTime": start,
            "endTime": end,
            "limit": PAGE,
        },
    )
    response.raise_for_status()
    return len(response.json())


def over_http(
    url: str, pid: int, symbols: list[str], first_ms: int, days: int, in_flight: int
) -> None:
    end = first_ms + days * DAY_MS - 1
    jobs = [
        (symbol, start) for symbol in symbols for start in range(first_ms, end, PAGE * MINUTE_MS)
    ]
    with httpx.Client(
        base_url=url, limits=httpx.Limits(max_keepalive_connections=in_flight)
    ) as client:
        started, server_cpu = time.perf_counter(), process_cpu_s(pid)
        with ThreadPoolExecutor(in_flight) as pool:
            rows = sum(pool.map(lambda job: fetch(client, job[0], job[1], end), jobs))
        elapsed = time.perf_counter() - started
        server_cpu = process_cpu_s(pid) - server_cpu
        stats = client.get("/_sim/stats").json()
    print(
        f"over HTTP, {in_flight} in flight: {len(jobs)} pages, {rows:,} rows in {elapsed:.2f} s = "
        f"{len(jobs) / elapsed:.0f} pages/s, {rows / elapsed:,.0f} rows/s; server CPU "
        f"{server_cpu / len(jobs) * 1000:.2f} ms a page; "
        f"server answered {stats}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    args = parser.parse_args()
    in_process(pages=200)
    symbols = args.symbols.split(",")
    with simulator_process("--no-limits") as url:
        pid = url.pid
        for run, in_flight in enumerate((1, 4)):
            # Earlier days each run, so the server generates every page instead of reusing blocks.
            over_http(
                url, pid, symbols, START_MS - (run + 1) * args.days * DAY_MS, args.days, in_flight
            )


if __name__ == "__main__":
    main()
