"""Config file and environment parsing: every bad value names its key."""

from datetime import date

import pytest

from crypto_assets.settings import ConfigError, load_settings


def write(tmp_path, text):
    path = tmp_path / "crypto.yaml"
    path.write_text(text)
    return path


def test_defaults_without_config(monkeypatch):
    for name in ("CRYPTO_CONFIG", "DATABASE_URL", "BINANCE_API_URL", "BINANCE_WS_URL", "BINANCE_ARCHIVE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.binance_api_url == "https://data-api.binance.vision"
    assert settings.binance_ws_url == "wss://data-stream.binance.vision:443"
    assert settings.database_url is None


def test_reads_every_key(tmp_path):
    settings = load_settings(write(tmp_path, """
symbols: [BTCUSDT, SOLUSDT]
history_start: 2023-05-01
sampling_interval_seconds: 5
downsample_windows: [30s, 1h]
rate_limit_share: 0.5
concurrency: 2
"""))
    assert settings.symbols == ("BTCUSDT", "SOLUSDT")
    assert settings.history_start == date(2023, 5, 1)
    assert settings.downsample_window_seconds() == [30, 3600]
    assert (settings.rate_limit_share, settings.concurrency, settings.sampling_interval_seconds) == (0.5, 2, 5.0)


@pytest.mark.parametrize(
    "text, key",
    [
        ("symbol: [BTCUSDT]", "'symbol' (did you mean 'symbols'?)"),
        ("symbols: [BTCUSDT, btc-usdt]", "'symbols[1]'"),
        ("symbols: []", "'symbols'"),
        ("history_start: last tuesday", "'history_start'"),
        ("rate_limit_share: 1.5", "'rate_limit_share'"),
        ("concurrency: 0", "'concurrency'"),
        ("concurrency: 2.5", "'concurrency'"),
        ("downsample_windows: [1m, 7x]", "'downsample_windows[1]'"),
        ("- just\n- a list", "expected a mapping"),
        ("symbols: [BTCUSDT", "not valid YAML"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text))
    assert key in str(err.value)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_settings(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "name, value",
    [("BINANCE_API_URL", "data-api.binance.vision"), ("BINANCE_WS_URL", "https://x"), ("DATABASE_URL", "mysql://x")],
)
def test_bad_urls_in_environment_are_named(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
