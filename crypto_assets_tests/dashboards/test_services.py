"""The dashboard as `crypto up` and docker-compose start it."""

from __future__ import annotations

from pathlib import Path

import yaml

from crypto_assets.commands.services import DASHBOARD_APP, platform_services

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_crypto_up_runs_streamlit_on_8501_with_the_readonly_url_when_given(monkeypatch):
    monkeypatch.delenv("DAGSTER_UI_URL", raising=False)
    plain = {s.name: s for s in platform_services(demo=False, dagster_port=3100)}["dashboard"]
    assert (
        plain.argv[1:5] == ["-m", "streamlit", "run", str(DASHBOARD_APP)]
        and DASHBOARD_APP.is_file()
    )
    assert plain.argv[plain.argv.index("--server.port") + 1] == "8501"
    assert plain.env == {"DAGSTER_UI_URL": "http://localhost:3100"}  # DATABASE_URL inherited
    readonly = "postgresql://crypto_dashboard@127.0.0.1:15432/crypto"
    given = {
        s.name: s
        for s in platform_services(demo=True, dagster_port=3000, dashboard_database_url=readonly)
    }
    assert given["dashboard"].env["DATABASE_URL"] == readonly


def test_crypto_up_ports_are_settable():
    """``crypto up --dashboard-port 8765 --simulator-port 9765 --dagster-port 3765``."""
    services = {
        s.name: s
        for s in platform_services(
            demo=True, dagster_port=3765, dashboard_port=8765, simulator_port=9765
        )
    }
    dashboard = services["dashboard"]
    assert dashboard.argv[dashboard.argv.index("--server.port") + 1] == "8765"
    assert dashboard.description == "Streamlit dashboard on http://localhost:8765"
    assert dashboard.env["DAGSTER_UI_URL"] == "http://localhost:3765"
    assert services["simulator"].argv[-2:] == ["--port", "9765"]
    assert services["simulator"].exports == {
        "BINANCE_API_URL": "http://127.0.0.1:9765",
        "BINANCE_WS_URL": "ws://127.0.0.1:9765",
        "BINANCE_ARCHIVE_URL": "http://127.0.0.1:9765",
    }
    assert (
        services["dagster-webserver"].argv[services["dagster-webserver"].argv.index("-p") + 1]
        == "3765"
    )


def test_compose_dashboard_is_readonly_healthchecked_and_after_migrate():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    dashboard = services["dashboard"]
    assert dashboard["ports"] == ["8501:8501"]
    assert dashboard["environment"]["DATABASE_URL"].startswith("postgresql://crypto_dashboard:")
    assert "DAGSTER_POSTGRES_URL" not in dashboard["environment"]  # no owner credentials
    assert "/_stcore/health" in " ".join(dashboard["healthcheck"]["test"])
    assert dashboard["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
