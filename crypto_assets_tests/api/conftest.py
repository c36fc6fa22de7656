"""API test fixtures: a warehouse filled by the platform's own writers, and the API serving it.

``api_market`` (session) is a database the tests only read, filled the way production fills
it: the candles_1m and candles_15m assets materialized through Dagster from the simulator's
REST API (68 days of BTCUSDT 1m candles for the long downloads, two days of both symbols), the
stream collector writing the first minutes of 2025-03-10 (stream candles, a forming one,
price samples, a heartbeat), then the aggregate assets (candles_1h, candles_1d,
market_metrics_daily, price_downsampled) over those three days. ``api_url`` is ``crypto api``
serving it as a real process, logged in as the read-only ``crypto_api`` role.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import psycopg2
import pytest
import uvicorn
import yaml
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from crypto_assets.api import ApiConfig, create_app
from crypto_assets.assets.aggregates import build_aggregates
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.settings import Settings
from crypto_assets.warehouse.roles import API_ROLE, ensure_readonly_role, role_url
from crypto_assets_tests.assets.helpers import materialize_range, resources
from crypto_assets_tests.dashboards.processes import running
from crypto_assets_tests.plugins.postgres import new_database
from crypto_assets_tests.stream.fixtures import stream_simulator_server  # noqa: F401 (fixture)
from crypto_assets_tests.stream.helpers import CollectorThread, query, wait_until

SYMBOLS = ("BTCUSDT", "ETHUSDT")
SETTINGS = Settings(symbols=SYMBOLS, history_start=date(2025, 1, 1))
LONG_RANGE = ("2025-01-01", "2025-03-09")  # BTCUSDT 1m: 98,000 candles
DAYS = ("2025-03-08", "2025-03-09")  # both symbols, every table
STREAM_DAY = "2025-03-10"  # the simulator's clock starts at 00:00:40 of this day
STREAMED_MINUTES = 3


@dataclass(frozen=True)
class Market:
    url: str  # the owner's URL (tests read expected values with it)
    readonly_url: str  # the crypto_api role's


def readonly(url: str) -> str:
    """Create the API's read-only role's grants on ``url``'s database; its login URL."""
    with contextlib.closing(psycopg2.connect(url)) as conn:
        assert ensure_readonly_role(conn, API_ROLE, password=None)
    return role_url(url, API_ROLE, password=None)


def fill_with_assets(url: str, simulator) -> None:
    """Candles from REST through Dagster, minutes from the collector, then the aggregates."""
    instance = dg.DagsterInstance.ephemeral()

    def run(asset: str, first: str, last: str) -> None:
        result = materialize_range(asset, SETTINGS, simulator.url, url, first, last, instance)
        assert result.success, f"{asset} {first}..{last} failed"

    run("candles_1m", f"{LONG_RANGE[0]}|BTCUSDT", f"{LONG_RANGE[1]}|BTCUSDT")
    run("candles_1m", f"{DAYS[0]}|ETHUSDT", f"{DAYS[1]}|ETHUSDT")
    run("candles_15m", f"{DAYS[0]}|BTCUSDT", f"{DAYS[1]}|ETHUSDT")
    collector = CollectorThread.start(simulator, url, symbols=SYMBOLS)
    try:
        wait_until(
            lambda: query(
                url,
                "SELECT count(*) = %s FROM (SELECT symbol FROM candles_1m WHERE is_closed"
                " AND source = 'stream' GROUP BY symbol HAVING count(*) >= %s) s",
                (len(SYMBOLS), STREAMED_MINUTES),
            )[0][0],
            "the collector's first closed minutes",
        )
    finally:
        collector.stop()
    aggregates = build_aggregates(day_symbol_partitions(SETTINGS), SETTINGS)
    result = dg.materialize(
        [*aggregates.assets, *aggregates.upstream],
        selection=[a.key for a in aggregates.assets],
        resources=resources(simulator.url, url),
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: f"{DAYS[0]}|BTCUSDT",
            ASSET_PARTITION_RANGE_END_TAG: f"{STREAM_DAY}|ETHUSDT",
        },
    )
    assert result.success


@pytest.fixture(scope="session")
def api_market(pg_server, stream_simulator_server) -> Market:  # noqa: F811 (the imported fixture)
    stream_simulator_server.streams.drop_all()
    stream_simulator_server.reset()
    url = new_database(pg_server, "api_market", migrate=True)
    fill_with_assets(url, stream_simulator_server)
    return Market(url, readonly(url))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory: Path, **keys) -> Path:
    path = directory / "crypto.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "symbols": list(SYMBOLS),
                "history_start": "2025-01-01",
                "downsample_windows": ["1m", "5m"],
                **keys,
            }
        )
    )
    return path


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@pytest.fixture(scope="session")
def api_server(api_market, tmp_path_factory) -> Iterator[Server]:
    """``crypto api`` on a free port, reading ``api_market`` as the crypto_api role."""
    port = free_port()
    config = write_config(tmp_path_factory.mktemp("api_config"))
    argv = [sys.executable, "-m", "crypto_assets.cli", "api", "--port", str(port)]
    env = {
        "DATABASE_URL": api_market.readonly_url,
        "CRYPTO_CONFIG": str(config),
        "CRYPTO_API_TOKENS": "",
    }
    with running(argv, env, r"Started server process \[(\d+)\]", timeout=60) as started:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(base), f"crypto api on port {port}")
        yield Server(base, int(started.group(1)))


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def client(api_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_server.url, timeout=30) as http:
        yield http


@contextlib.contextmanager
def serving(config: ApiConfig) -> Iterator[str]:
    """The API app for ``config`` under uvicorn in this process (for configurations the shared
    server does not have); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the in-process API server")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def api_config(database_url: str, **overrides) -> ApiConfig:
    return ApiConfig.from_settings(
        Settings(symbols=SYMBOLS, history_start=date(2025, 1, 1)), database_url, **overrides
    )
