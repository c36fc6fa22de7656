"""Config file and environment parsing: every bad value names its key."""

from datetime import UTC, date, datetime, timedelta

import pytest

from crypto_assets.settings import ConfigError, load_settings


def write(tmp_path, text):
    path = tmp_path / "crypto.yaml"
    path.write_text(text)
    return path


def test_defaults_without_config(monkeypatch):
    for name in (
        "CRYPTO_CONFIG",
        "DATABASE_URL",
        "BINANCE_API_URL",
        "BINANCE_WS_URL",
        "BINANCE_ARCHIVE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.binance_api_url == "https://data-api.binance.vision"
    assert settings.binance_ws_url == "wss://data-stream.binance.vision:443"
    assert settings.database_url is None


def test_reads_every_key(tmp_path):
    settings = load_settings(
        write(
            tmp_path,
            """
symbols: [BTCUSDT, SOLUSDT]
history_start: 2023-05-01
sampling_interval_seconds: 5
downsample_windows: [30s, 1h]
rate_limit_share: 0.5
concurrency: 2
""",
        )
    )
    assert settings.symbols == ("BTCUSDT", "SOLUSDT")
    assert settings.history_start == date(2023, 5, 1)
    assert settings.downsample_window_seconds() == [30, 3600]
    assert (
        settings.rate_limit_share,
        settings.concurrency,
        settings.sampling_interval_seconds,
    ) == (0.5, 2, 5.0)


TOMORROW = datetime.now(UTC).date() + timedelta(days=1)


@pytest.mark.parametrize(
    "text, says",
    [
        ("symbol: [BTCUSDT]", "unknown config key 'symbol' (did you mean 'symbols'?)"),
        (
            "histroy_start: 2024-01-01",
            "unknown config key 'histroy_start' (did you mean 'history_start'?)",
        ),
        (
            "symbols: [BTCUSDT, btc-usdt]",
            "config key 'symbols': 'btc-usdt' is not a Binance symbol",
        ),
        ("symbols: [BTCUSDT, btc-usdt]", "did you mean BTCUSDT?"),
        ("symbols: []", "config key 'symbols': expected a non-empty list"),
        (
            "history_start: last tuesday",
            "config key 'history_start': 'last tuesday' is not a date like 2024-01-31",
        ),
        # 2024 is a leap year: February has 29 days; 2023's has 28; April has 30.
        (
            "history_start: 2024-02-30",
            (
                "config key 'history_start': 2024-02-30 is not a date: February 2024 has 29 days"
                " (the nearest valid day is 2024-02-29)"
            ),
        ),
        (
            "history_start: 2023-02-29",
            "February 2023 has 28 days (the nearest valid day is 2023-02-28)",
        ),
        (
            "history_start: 2024-04-31",
            "April 2024 has 30 days (the nearest valid day is 2024-04-30)",
        ),
        (
            "history_start: 2024-04-00",
            "April 2024 has 30 days (the nearest valid day is 2024-04-01)",
        ),
        ("history_start: 2024-13-01", "there is no month 13"),
        (
            "history_start: 2024-01-01 12:00:00",
            (
                "config key 'history_start': '2024-01-01 12:00:00' is a date and time;"
                " give the day alone, like 2024-01-01"
            ),
        ),
        (
            "history_start: 2024-01-01T00:00:00Z",
            "is a date and time; give the day alone, like 2024-01-01",
        ),
        (f"history_start: {TOMORROW}", f"config key 'history_start': {TOMORROW} is in the future"),
        (
            "rate_limit_share: 1.5",
            "config key 'rate_limit_share': 1.5 is above 1, the largest valid value",
        ),
        ("rate_limit_share: 0", "config key 'rate_limit_share': 0 must be greater than 0"),
        (
            "concurrency: 0",
            "config key 'concurrency': 0 must be greater than 0 (the smallest valid value is 1)",
        ),
        ("concurrency: -3", "config key 'concurrency': -3 must be greater than 0"),
        ("concurrency: 2.5", "config key 'concurrency': 2.5 is not a whole number"),
        (
            "sampling_interval_seconds: -0.5",
            "config key 'sampling_interval_seconds': -0.5 must be greater than 0",
        ),
        (
            "sampling_interval_seconds: .inf",
            "config key 'sampling_interval_seconds': inf is not a finite number",
        ),
        (
            "price_samples_retention_days: 0",
            "config key 'price_samples_retention_days': 0 must be greater than 0",
        ),
        ("downsample_windows: [1m, 7x]", "config key 'downsample_windows[1]'"),
        ("- just\n- a list", "expected a mapping"),
        ("symbols: [BTCUSDT", "not valid YAML"),
    ],
)
def test_bad_config_names_the_key_and_the_problem(tmp_path, text, says):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text))
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_today_is_a_valid_history_start(tmp_path):
    today = datetime.now(UTC).date()
    assert load_settings(write(tmp_path, f"history_start: {today}")).history_start == today


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(
        ConfigError, match=r"environment variable CRYPTO_CONFIG: config file .*nope\.yaml"
    ):
        load_settings(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "name, value, says",
    [
        (
            "BINANCE_API_URL",
            "data-api.binance.vision",
            "is not a URL: it needs a scheme (http:// or https://)",
        ),
        (
            "BINANCE_API_URL",
            "htps://data-api.binance.vision",
            "has the scheme htps://; expected http:// or https:// (did you mean 'https'?)",
        ),
        ("BINANCE_API_URL", "http://127.0.0.1:99999", "has an invalid port (ports are 1 to 65535)"),
        ("BINANCE_API_URL", "http://", "has no host name"),
        ("BINANCE_WS_URL", "https://x", "has the scheme https://; expected ws:// or wss://"),
        (
            "DATABASE_URL",
            "mysql://x",
            "has the scheme mysql://; expected postgresql:// or postgres://",
        ),
        ("DATABASE_URL", "localhost:5432/crypto", "is not a URL"),
    ],
)
def test_bad_urls_in_environment_are_named(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith(f"environment variable {name}: ")
    assert says in str(err.value)


@pytest.mark.parametrize(
    "value",
    [
        "mysql://crypto:hunter2@db:5432/crypto",
        "postgresql://crypto:hunter2@db:99999/crypto",
        "postgres ql://crypto:hunter2@db/crypto",
        "mysql://db/crypto?password=hunter2",
    ],
)
def test_a_bad_database_url_never_shows_its_password(monkeypatch, value):
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "hunter2" not in str(err.value)
    assert "***" in str(err.value)


def test_a_socket_database_url_needs_no_host(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql:///crypto")
    assert load_settings().database_url == "postgresql:///crypto"


def test_a_config_past_the_partition_limit_says_what_to_change(tmp_path):
    symbols = ", ".join(f"SYM{i:04d}USDT" for i in range(200))  # 200 symbols x about 3 years
    start = datetime.now(UTC).date().replace(day=1).replace(year=datetime.now(UTC).year - 3)
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, f"symbols: [{symbols}]\nhistory_start: {start}\n"))
    message = str(err.value)
    assert "config keys 'symbols' and 'history_start': 200 symbols x" in message
    assert (
        "above the 120,000 this platform supports" in message and "set history_start to" in message
    )
    fitting = message.split("set history_start to ")[1].split(" ")[0]
    days = (datetime.now(UTC).date() - date.fromisoformat(fitting)).days + 1
    assert 200 * days <= 120_000 < 200 * (days + 1)  # the nearest valid value, not just any


def test_one_hundred_symbols_over_three_years_is_within_the_limit(tmp_path):
    symbols = ", ".join(f"SYM{i:04d}USDT" for i in range(100))
    start = datetime.now(UTC).date() - timedelta(days=3 * 365)
    assert (
        len(
            load_settings(
                write(tmp_path, f"symbols: [{symbols}]\nhistory_start: {start}\n")
            ).symbols
        )
        == 100
    )


@pytest.mark.parametrize(
    "name, value, says",
    [
        (
            "DAGSTER_HOME",
            "relative/home",
            "environment variable DAGSTER_HOME: 'relative/home' is not an absolute path",
        ),
        (
            "DAGSTER_HOME",
            "/nonexistent/dagster_home",
            "environment variable DAGSTER_HOME: /nonexistent/dagster_home is not a directory",
        ),
        (
            "DAGSTER_POSTGRES_URL",
            "sqlite:///x.db",
            "environment variable DAGSTER_POSTGRES_URL: 'sqlite:///x.db' has the scheme sqlite://",
        ),
        (
            "DATABASE_URL",
            "postgresql://crypto:hunter2@db:0/crypto",
            "environment variable DATABASE_URL: 'postgresql://crypto:***@db:0/crypto' has an invalid port",
        ),
    ],
)
def test_the_environment_dagster_and_the_server_need_is_checked_first(
    monkeypatch, name, value, says
):
    from crypto_assets.environment import check_environment

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        check_environment()
    assert str(err.value).startswith(says)


def test_a_data_directory_that_is_a_file_is_named(monkeypatch, tmp_path):
    from crypto_assets.environment import check_environment

    (tmp_path / "data").write_text("")
    monkeypatch.setenv("CRYPTO_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(
        ConfigError, match=r"\(environment variable CRYPTO_DATA_DIR\) is a file, not a directory"
    ):
        check_environment()
