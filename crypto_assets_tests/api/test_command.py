"""The API as the platform runs it: `crypto api`, `crypto up` (services.py), docker-compose, and
the read-only login the environment prepares for it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import psycopg2
import yaml

from crypto_assets.commands.services import API_PORT, platform_services
from crypto_assets.environment import prepare_environment
from crypto_assets.warehouse.roles import API_ROLE, role_url
from crypto_assets_tests.plugins.postgres import new_database

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_crypto_up_serves_the_api_on_8000_with_its_readonly_login_when_there_is_one():
    plain = {s.name: s for s in platform_services(demo=False, dagster_port=3000)}["api"]
    assert (
        plain.argv[1:] == ["-m", "crypto_assets.cli", "api", "--port", "8000"] and API_PORT == 8000
    )
    assert plain.env == {}  # DATABASE_URL inherited
    login = "postgresql://crypto_api@127.0.0.1:15432/crypto"
    given = {
        s.name: s for s in platform_services(demo=True, dagster_port=3000, api_database_url=login)
    }["api"]
    assert given.env == {"DATABASE_URL": login}


def test_prepare_environment_creates_the_api_login(pg_server, tmp_path, monkeypatch):
    url = new_database(pg_server, "api_environment")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(
        "API_DB_PASSWORD", "api-test-password"
    )  # a server given by URL: a login needs a password
    env = prepare_environment()
    assert env.api_url == role_url(url, API_ROLE, password="api-test-password")
    with contextlib.closing(psycopg2.connect(env.api_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, count(*) FROM candles_1d")
        assert cur.fetchone() == (API_ROLE, 0)


def test_a_bad_port_is_refused_before_anything_starts():
    result = subprocess.run(
        [sys.executable, "-m", "crypto_assets.cli", "api", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "crypto api: error: flag --port: 70000 is not a port number (1 to 65535) (see crypto api --help)"
    )


def test_compose_runs_the_api_readonly_healthchecked_and_after_migrate():
    compose = yaml.safe_load(COMPOSE.read_text())
    api = compose["services"]["api"]
    assert api["command"] == ["crypto", "api", "--host", "0.0.0.0", "--port", "8000"] and api[
        "ports"
    ] == ["8000:8000"]
    assert api["environment"]["DATABASE_URL"].startswith("postgresql://crypto_api:")
    assert "DAGSTER_POSTGRES_URL" not in api["environment"]  # no owner credentials
    assert "http://localhost:8000/v1/health" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (
        "API_DB_PASSWORD" in compose["services"]["migrate"]["environment"]
    )  # migrate sets the role's password
