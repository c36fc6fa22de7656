"""The dashboard as `crypto up` and docker-compose start it."""

from __future__ import annotations

from pathlib import Path

import yaml

from crypto_assets.commands.services import DASHBOARD_APP, platform_services

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_crypto_up_runs_streamlit_on_8501_with_the_readonly_url_when_given(monkeypatch):
    monkeypatch.delenv("DAGSTER_UI_URL", raising=False)
    plain = {s.name: s for s in platform_services(demo=False, dagster_port=3100)}["dashboard"]
    assert plain.argv[1:5] == ["-m", "streamlit", "run", str(DASHBOARD_APP)] and DASHBOARD_APP.is_file()
    assert plain.argv[plain.argv.index("--server.port") + 1] == "8501"
    assert plain.env == {"DAGSTER_UI_URL": "http://localhost:3100"}  # DATABASE_URL inherited
    readonly = "postgresql://crypto_dashboard@127.0.0.1:15432/crypto"
    given = {s.name: s for s in platform_services(demo=True, dagster_port=3000, dashboard_database_url=readonly)}
    assert given["dashboard"].env["DATABASE_URL"] == readonly


def test_compose_dashboard_is_readonly_healthchecked_and_after_migrate():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    dashboard = services["dashboard"]
    assert dashboard["ports"] == ["8501:8501"]
    assert dashboard["environment"]["DATABASE_URL"].startswith("postgresql://crypto_dashboard:")
    assert "DAGSTER_POSTGRES_URL" not in dashboard["environment"]  # no owner credentials
    assert "/_stcore/health" in " ".join(dashboard["healthcheck"]["test"])
    assert dashboard["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
