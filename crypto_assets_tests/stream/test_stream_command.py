"""``crypto stream``: its settings, ``--healthcheck`` on a real database, and where it runs as a service."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest
import yaml

from crypto_assets.cli import main
from crypto_assets.commands.services import SIMULATOR_PORT, platform_services
from crypto_assets.settings import ConfigError, load_settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def heartbeat(db_url: str, message_age_s: float) -> None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO stream_heartbeats (connection_id, streams, connected_at, last_message_at)"
            " VALUES ('kline_1m-0', 2, now() - interval '1 hour', now() - make_interval(secs => %s))",
            (message_age_s,),
        )
    conn.close()


@pytest.fixture
def database(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("CRYPTO_CONFIG", raising=False)
    return db_url


def test_healthcheck_fails_without_a_heartbeat(database, capsys):
    assert main(["stream", "--healthcheck"]) == 1
    assert "no collector heartbeat" in capsys.readouterr().out


def test_healthcheck_passes_while_messages_flow(database, capsys):
    heartbeat(database, 2)
    assert main(["stream", "--healthcheck", "--max-age", "60"]) == 0
    assert "kline_1m-0: ok" in capsys.readouterr().out


def test_healthcheck_fails_when_the_last_message_is_old(database, capsys):
    heartbeat(database, 120)
    assert main(["stream", "--healthcheck", "--max-age", "60"]) == 1
    assert "kline_1m-0: STALE" in capsys.readouterr().out


def test_healthcheck_passes_for_a_connection_whose_symbols_all_left_trading(database, capsys):
    with psycopg2.connect(database) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO stream_heartbeats (connection_id, streams, not_streaming)"
            " VALUES ('kline_1m-0', 0, '{\"ETHUSDT\": \"BREAK\"}')"
        )  # alive, nothing to stream
    conn.close()
    assert main(["stream", "--healthcheck", "--max-age", "60"]) == 0
    out = capsys.readouterr().out
    assert "kline_1m-0: ok; 0 streams" in out and "not streaming ETHUSDT (BREAK)" in out


def test_crypto_up_runs_the_collector_and_demo_points_it_at_the_simulator():
    demo = {s.name: s for s in platform_services(demo=True, dagster_port=3000)}
    assert demo["stream"].argv[-1] == "stream"
    assert demo["simulator"].exports["BINANCE_WS_URL"] == f"ws://127.0.0.1:{SIMULATOR_PORT}"
    assert "stream" in {s.name for s in platform_services(demo=False, dagster_port=3000)}


def test_compose_runs_the_collector_with_a_restart_policy_and_a_heartbeat_healthcheck():
    service = yaml.safe_load(COMPOSE.read_text())["services"]["stream"]
    assert service["command"] == ["crypto", "stream"]
    assert service["restart"] == "unless-stopped"
    assert service["healthcheck"]["test"][1:4] == ["crypto", "stream", "--healthcheck"]
    if shutil.which("docker-compose"):
        subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "--quiet"], check=True)


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("stream_flush_interval_seconds", 2, "at most a second"),
        ("stream_streams_per_connection", 2000, "1024"),
        ("stream_buffer_rows", 0, "greater than 0"),
        ("stream_idle_timeout_seconds", "soon", "not a number"),
    ],
)
def test_bad_stream_settings_name_their_key(tmp_path, monkeypatch, key, value, says):
    config = tmp_path / "crypto.yaml"
    config.write_text(yaml.safe_dump({key: value}))
    monkeypatch.setenv("CRYPTO_CONFIG", str(config))
    with pytest.raises(ConfigError, match=f"'{key}'.*{says}"):
        load_settings()


def test_crypto_up_runs_dagster_inside_dagster_home(tmp_path):
    """Next to the repo's dagster.yaml template, Dagster would warn that it ignores it."""
    services = {
        s.name: s
        for s in platform_services(demo=False, dagster_port=3000, dagster_home=str(tmp_path))
    }
    assert services["dagster-webserver"].cwd == services["dagster-daemon"].cwd == str(tmp_path)
    assert services["stream"].cwd is None
