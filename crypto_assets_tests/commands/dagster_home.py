"""A ``crypto`` command environment: config file, warehouse, and a Dagster instance in PostgreSQL."""

import shutil
from pathlib import Path

import dagster as dg

from crypto_assets.environment import DAGSTER_YAML, dagster_storage_url
from crypto_assets_tests.plugins.postgres import new_database

CONFIG = "symbols: [BTCUSDT, ETHUSDT]\nhistory_start: 2024-09-01\n"


def command_env(tmp_path: Path, monkeypatch, pg_server, db_url) -> Path:
    """Point CRYPTO_CONFIG, DATABASE_URL and DAGSTER_HOME (the project's dagster.yaml) at test places."""
    config = tmp_path / "crypto.yaml"
    config.write_text(CONFIG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv(
        "DAGSTER_POSTGRES_URL", dagster_storage_url(new_database(pg_server, "dagster_commands"))
    )
    monkeypatch.setenv("CRYPTO_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))
