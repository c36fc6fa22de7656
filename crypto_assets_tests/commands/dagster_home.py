"""A ``crypto`` command environment: config file, warehouse, and a Dagster instance in PostgreSQL."""

from pathlib import Path

import dagster as dg

from crypto_assets_tests.plugins.postgres import new_database

CONFIG = "symbols: [BTCUSDT, ETHUSDT]\nhistory_start: 2024-09-01\n"


def command_env(tmp_path: Path, monkeypatch, pg_server, db_url) -> Path:
    """Point CRYPTO_CONFIG, DATABASE_URL and DAGSTER_HOME (PostgreSQL storage, as dagster.yaml) at test places."""
    config = tmp_path / "crypto.yaml"
    config.write_text(CONFIG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which is not installed: name psycopg2
    storage_url = new_database(pg_server, "dagster_commands").replace("postgresql://", "postgresql+psycopg2://", 1)
    (home / "dagster.yaml").write_text(f"storage:\n  postgres:\n    postgres_url: {storage_url}\ntelemetry:\n  enabled: false\n")
    monkeypatch.setenv("CRYPTO_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home))
