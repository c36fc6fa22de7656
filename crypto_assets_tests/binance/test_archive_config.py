"""``BINANCE_ARCHIVE_URL`` from the environment to the assets' resource, ``make demo``'s simulator
and docker-compose, and Dagster's event batching where the platform starts Dagster."""

from pathlib import Path

import pytest
import yaml

from crypto_assets.commands.services import SIMULATOR_PORT, platform_services
from crypto_assets.definitions import build_definitions
from crypto_assets.environment import EVENT_BATCH_SIZE
from crypto_assets.settings import ConfigError, load_settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, "https://data.binance.vision"),
        ("", ""),
        ("  ", ""),
        ("http://127.0.0.1:9100/", "http://127.0.0.1:9100"),
    ],
)
def test_archive_url_defaults_to_binance_and_empty_means_rest_only(monkeypatch, value, expected):
    monkeypatch.delenv("CRYPTO_CONFIG", raising=False)
    if value is None:
        monkeypatch.delenv("BINANCE_ARCHIVE_URL", raising=False)
    else:
        monkeypatch.setenv("BINANCE_ARCHIVE_URL", value)
    settings = load_settings()
    assert settings.binance_archive_url == expected
    resources = build_definitions(settings).resources
    assert resources is not None and resources["binance"].archive_url == expected


def test_a_bad_archive_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("BINANCE_ARCHIVE_URL", "data.binance.vision")
    with pytest.raises(
        ConfigError,
        match=(
            r"environment variable BINANCE_ARCHIVE_URL: 'data.binance.vision' is not a URL: "
            r"it needs a scheme \(http:// or https://\)"
        ),
    ):
        load_settings()


def test_demo_points_the_archive_at_the_simulator():
    demo = {s.name: s for s in platform_services(demo=True, dagster_port=3000)}
    assert demo["simulator"].exports["BINANCE_ARCHIVE_URL"] == f"http://127.0.0.1:{SIMULATOR_PORT}"


def test_compose_passes_the_archive_url_and_batches_dagster_events():
    environment = yaml.safe_load(COMPOSE.read_text())["x-app"]["environment"]
    assert (
        environment["BINANCE_ARCHIVE_URL"] == "${BINANCE_ARCHIVE_URL-https://data.binance.vision}"
    )  # empty stays empty
    assert environment["DAGSTER_EVENT_BATCH_SIZE"] == EVENT_BATCH_SIZE
