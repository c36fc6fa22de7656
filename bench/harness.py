"""What every benchmark needs: a throwaway PostgreSQL, a simulator process, medians.

The simulator runs in its own process (as Binance would be on another machine), so its CPU is
not charged to the code under test; both share this machine's 2 cores, as in production.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

import httpx

from crypto_assets.warehouse.db import connect
from crypto_assets.warehouse.schema import migrate
from crypto_assets.warehouse.server import LocalPostgres


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def throwaway_postgres(durable: bool = False) -> Iterator[LocalPostgres]:
    """A fresh cluster in a temp dir (TimescaleDB when installed), stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="crypto-bench-") as tmp:
        Path(tmp).chmod(0o755)  # the server may run as system user 'postgres' (when we are root)
        with LocalPostgres(Path(tmp) / "pg", durable=durable) as server:
            yield server


def fresh_database(server: LocalPostgres, name: str) -> str:
    """Drop and recreate ``name`` with the schema applied; returns its URL."""
    server.drop_database(name)
    url = server.create_database(name)
    conn = connect(url)
    try:
        migrate(conn)
    finally:
        conn.close()
    return url


class SimulatorURL(str):
    """The simulator's base URL, carrying the process id (for CPU accounting)."""

    pid: int


@contextlib.contextmanager
def server_process(
    argv: list[str],
    ready_url: str,
    what: str,
    env: dict[str, str] | None = None,
    timeout_s: float = 30,
) -> Iterator[subprocess.Popen]:
    """Run ``argv`` until the block ends; yields the process once ``ready_url`` answers 2xx."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                httpx.get(ready_url, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def simulator_process(*args: str) -> Iterator[SimulatorURL]:
    """``crypto simulator`` in a subprocess; yields its base URL once it answers /api/v3/ping."""
    port = free_port()
    url = SimulatorURL(f"http://127.0.0.1:{port}")
    argv = [sys.executable, "-m", "crypto_assets.cli", "simulator", "--port", str(port), *args]
    with server_process(argv, f"{url}/api/v3/ping", f"simulator on port {port}") as process:
        url.pid = process.pid
        yield url


def timed_backfill(asset: str, first: date, last: date, env: Mapping[str, str]) -> float:
    """Seconds ``crypto backfill {asset} --start first --end last`` takes in its own process.

    Its output shows with ``BENCH_VERBOSE`` set; otherwise it is kept out of the figures and its
    error output is raised only if the command fails.
    """
    verbose = bool(os.environ.get("BENCH_VERBOSE"))
    command = ["backfill", asset, "--start", first.isoformat(), "--end", last.isoformat()]
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "crypto_assets.cli", *command],
        env=dict(env),
        stdout=None if verbose else subprocess.DEVNULL,
        stderr=None if verbose else subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(
            f"crypto {' '.join(command)} exited {done.returncode}: {(done.stderr or '')[-2000:]}"
        )
    return seconds


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a small aligned table of figures."""
    print(f"\n## {title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")
