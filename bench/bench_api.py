"""Benchmark: the HTTP API's latency, its download throughput against COPY, and its memory.

Seeds a year (2024) of 1m candles for one symbol (527,040 rows, ``bench/seed.py``) in a
throwaway PostgreSQL (TimescaleDB when installed), rolls them up into candles_1h with the
assets' SQL, then runs ``crypto api`` as its own process, logged in as the crypto_api role.

* Latency: p50/p95 of ``/v1/candles`` in JSON for a day of 1m (1,440 candles) and for a year of
  1h (8,784 candles, ``limit=10000``), over ``--repeats`` requests on one keep-alive connection.
* Throughput: a year of 1m streamed as CSV and as Arrow (httpx, read to the end), against
  ``COPY (SELECT * ... ORDER BY open_time) TO STDOUT`` of the same rows by psycopg2 in the same run:
  rows/s and the ratio, per run and their median.
* Memory: the server's RSS before and at its peak while streaming (sampled every 20 ms).

    uv run python -m bench.bench_api [--runs 3] [--repeats 40]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2
import yaml

from bench.harness import (
    free_port,
    fresh_database,
    median,
    report,
    server_process,
    throwaway_postgres,
)
from bench.seed import seed_candles_1m
from crypto_assets.warehouse.roles import API_ROLE, ensure_readonly_role, role_url
from crypto_assets.warehouse.rollups import write_candles_1h

SYMBOL = "BTCUSDT"
START, DAYS = date(2024, 1, 1), 366  # all of 2024 (a leap year): 527,040 minutes
MB = 1 << 20
COPY_SQL = (
    "COPY (SELECT * FROM candles_1m WHERE symbol = %s AND open_time >= %s AND open_time < %s"
    " ORDER BY open_time) TO STDOUT"
)


def _utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def seed(url: str) -> int:
    rows = seed_candles_1m(url, [SYMBOL], START, DAYS)
    with contextlib.closing(psycopg2.connect(url)) as conn:
        with conn.cursor() as cur:
            write_candles_1h(cur, SYMBOL, _utc(START), _utc(START + timedelta(days=DAYS)))
        conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        assert ensure_readonly_role(conn, API_ROLE, password=None)
    return rows


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakRss:
    """The process's highest RSS while the block runs."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._done = pid, rss(pid), threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, rss(self.pid))

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


@contextlib.contextmanager
def api_process(database_url: str):
    """``crypto api`` on a free port; yields (base URL, pid)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "crypto.yaml"
        config.write_text(yaml.safe_dump({"symbols": [SYMBOL]}))
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CRYPTO_CONFIG": str(config),
            "CRYPTO_API_TOKENS": "",
        }
        base = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "crypto_assets.cli", "api", "--port", str(port)]
        with server_process(
            argv, f"{base}/openapi.json", "crypto api", env, timeout_s=60
        ) as process:
            yield base, process.pid


def latencies(client: httpx.Client, params: dict, repeats: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, candles per answer) of ``repeats`` requests after two warm-ups."""
    times, count = [], 0
    for i in range(repeats + 2):
        began = time.perf_counter()
        response = client.get(f"/v1/candles/{SYMBOL}", params=params)
        elapsed = time.perf_counter() - began
        response.raise_for_status()
        count = len(response.json()["candles"])
        if i >= 2:
            times.append(elapsed * 1000)
    return median(times), statistics.quantiles(times, n=20)[18], count


def copy_seconds(url: str) -> float:
    class Discard:
        def write(self, data):
            return len(data)

    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        began = time.perf_counter()
        cur.copy_expert(
            cur.mogrify(COPY_SQL, (SYMBOL, _utc(START), _utc(date(2025, 1, 1)))).decode(), Discard()
        )
        return time.perf_counter() - began


def download(client: httpx.Client, pid: int, fmt: str) -> tuple[float, int, int]:
    """(seconds, bytes, peak server RSS) of a year of 1m as ``fmt``."""
    params = {"interval": "1m", "start": "2024-01-01", "end": "2025-01-01", "format": fmt}
    size = 0
    with PeakRss(pid) as memory:
        began = time.perf_counter()
        with client.stream("GET", f"/v1/candles/{SYMBOL}", params=params) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                size += len(chunk)
        elapsed = time.perf_counter() - began
    return elapsed, size, memory.peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    with throwaway_postgres() as server:
        url = fresh_database(server, "bench_api")
        began = time.perf_counter()
        year_rows = seed(url)
        print(
            f"seeded {year_rows:,} 1m candles and their candles_1h in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        with (
            api_process(role_url(url, API_ROLE, password=None)) as (base, pid),
            httpx.Client(base_url=base, timeout=120) as client,
        ):
            day = latencies(
                client,
                {"interval": "1m", "start": "2024-06-01", "end": "2024-06-02", "limit": 1440},
                args.repeats,
            )
            year = latencies(
                client,
                {"interval": "1h", "start": "2024-01-01", "end": "2025-01-01", "limit": 10000},
                args.repeats,
            )
            download(client, pid, "arrow")  # warm: imports and buffers of both paths
            download(client, pid, "csv")
            baseline = rss(pid)
            runs = []
            for _ in range(args.runs):
                copy_s = copy_seconds(url)
                csv_s, csv_bytes, csv_peak = download(client, pid, "csv")
                arrow_s, arrow_bytes, arrow_peak = download(client, pid, "arrow")
                runs.append((copy_s, csv_s, arrow_s, csv_peak, arrow_peak))
                print(
                    f"  run: COPY {year_rows / copy_s:,.0f} rows/s; CSV {year_rows / csv_s:,.0f} rows/s"
                    f" (ratio {copy_s / csv_s:.2f}); Arrow {year_rows / arrow_s:,.0f} rows/s"
                    f" (ratio {copy_s / arrow_s:.2f}); peak RSS {csv_peak / MB:.0f} / {arrow_peak / MB:.0f} MB",
                    flush=True,
                )
    report(
        "HTTP API",
        [
            (
                "JSON, a day of 1m (1,440 candles): p50 / p95",
                f"{day[0]:.1f} / {day[1]:.1f} ms ({day[2]} candles)",
            ),
            (
                "JSON, a year of 1h (limit 10000): p50 / p95",
                f"{year[0]:.1f} / {year[1]:.1f} ms ({year[2]} candles)",
            ),
            (
                "COPY TO STDOUT, a year of 1m",
                f"{year_rows / median([r[0] for r in runs]):,.0f} rows/s",
            ),
            (
                "CSV download, same rows",
                f"{year_rows / median([r[1] for r in runs]):,.0f} rows/s, {csv_bytes / MB:.0f} MB",
            ),
            ("CSV / COPY (median of runs)", f"{median([r[0] / r[1] for r in runs]):.2f}"),
            (
                "Arrow download, same rows",
                f"{year_rows / median([r[2] for r in runs]):,.0f} rows/s, {arrow_bytes / MB:.0f} MB",
            ),
            (
                "Arrow / COPY (median of runs; target >= 0.5)",
                f"{median([r[0] / r[2] for r in runs]):.2f}",
            ),
            (
                "server RSS: idle after warm-up -> peak while streaming",
                f"{baseline / MB:.0f} -> {max(max(r[3], r[4]) for r in runs) / MB:.0f} MB",
            ),
            ("load average at the end", f"{os.getloadavg()[0]:.1f}"),
        ],
    )


if __name__ == "__main__":
    main()
