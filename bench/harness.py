"""What every benchmark needs: a throwaway PostgreSQL, a simulator process, medians.

The simulator runs in its own process (as Binance would be on another machine), so its CPU is
not charged to the code under test; both share this machine's 2 cores, as in production.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

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
def simulator_process(*args: str) -> Iterator[SimulatorURL]:
    """``crypto simulator`` in a subprocess; yields its base URL once it answers /api/v3/ping."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "crypto_assets.cli", "simulator", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
    )
    url = SimulatorURL(f"http://127.0.0.1:{port}")
    url.pid = process.pid
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/v3/ping", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"simulator on port {port} did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a small aligned table of figures."""
    print(f"\n## {title}")
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")
