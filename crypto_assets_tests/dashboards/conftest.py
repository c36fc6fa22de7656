"""Dashboard test fixtures: a seeded warehouse, an empty one, and the page environment."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from crypto_assets_tests.dashboards.seed import SeededMarket, seed_market
from crypto_assets_tests.plugins.postgres import new_database


@dataclass(frozen=True)
class Seeded:
    url: str
    market: SeededMarket


@pytest.fixture(scope="session")
def seeded(pg_server) -> Seeded:
    """A warehouse with 45 days of three symbols (see ``seed.py``); tests only read it."""
    url = new_database(pg_server, "dashboard_seeded", migrate=True)
    return Seeded(url, seed_market(url))


@pytest.fixture(scope="session")
def empty_url(pg_server) -> str:
    """A migrated warehouse with no rows."""
    return new_database(pg_server, "dashboard_empty", migrate=True)


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def use_database(monkeypatch):
    """Point the dashboard at a database (and at no Dagster unless told)."""

    def use(url: str, dagster_graphql_url: str | None = None) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv(
            "DAGSTER_GRAPHQL_URL",
            dagster_graphql_url or f"http://127.0.0.1:{closed_port()}/graphql",
        )
        monkeypatch.setenv("DAGSTER_UI_URL", "http://dagster.example:3000")

    return use


@pytest.fixture(scope="session")
def dagster_graphql(tmp_path_factory) -> Iterator[str]:
    """GraphQL URL of a real Dagster webserver whose instance holds two materializations of
    ``dagster_defs.candles_1m`` (one check passed, one failed as a warning)."""
    import dagster as dg

    from crypto_assets_tests.dashboards import dagster_defs
    from crypto_assets_tests.dashboards.processes import dagster_webserver

    home = tmp_path_factory.mktemp("dagster_home")
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        for key in ("2024-01-01|BTCUSDT", "2024-01-02|BTCUSDT"):
            assert dg.materialize(
                [dagster_defs.candles_1m], instance=instance, partition_key=key
            ).success
    port = closed_port()
    with dagster_webserver(port, "crypto_assets_tests.dashboards.dagster_defs", home):
        yield f"http://127.0.0.1:{port}/graphql"
