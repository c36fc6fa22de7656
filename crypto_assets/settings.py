"""Typed settings from the YAML config file (``CRYPTO_CONFIG``) and the environment.

Every bad value raises ``ConfigError`` naming the config key (or environment variable) at fault,
so a typo never turns into a half-run backfill.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, overload

import yaml

from crypto_assets.inputs import InputError, check_url, closest, parse_day, positive_number

DEFAULT_API_URL = "https://data-api.binance.vision"
DEFAULT_WS_URL = "wss://data-stream.binance.vision:443"
DEFAULT_ARCHIVE_URL = "https://data.binance.vision"
_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
_WINDOW = re.compile(r"^(\d+)([smhd])$")
_WINDOW_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(ValueError):
    """A config key or environment variable holds a value the platform cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the platform reads from its config file and environment."""

    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    history_start: date = date(2024, 1, 1)
    sampling_interval_seconds: float = 2.0
    downsample_windows: tuple[str, ...] = ("1m", "5m")
    rate_limit_share: float = 0.95
    rest_retry_seconds: float = 300.0
    concurrency: int = 4
    compress_after_days: int = 7
    price_samples_retention_days: int = 30
    stream_flush_interval_seconds: float = 0.05
    stream_buffer_rows: int = 100_000
    stream_idle_timeout_seconds: float = 30.0
    stream_streams_per_connection: int = 1024
    automation_interval_seconds: int = 30
    api_tokens: tuple[str, ...] = field(default=(), repr=False)  # secrets: never printed
    database_url: str | None = None
    binance_api_url: str = DEFAULT_API_URL
    binance_ws_url: str = DEFAULT_WS_URL
    binance_archive_url: str = DEFAULT_ARCHIVE_URL  # "" = no archive: every candle from REST
    config_path: Path | None = field(default=None, compare=False)

    def downsample_window_seconds(self) -> list[int]:
        """The downsampling windows in seconds, in config order."""
        return [window_seconds(w) for w in self.downsample_windows]


_KEYS = {
    "symbols",
    "history_start",
    "sampling_interval_seconds",
    "downsample_windows",
    "rate_limit_share",
    "rest_retry_seconds",
    "concurrency",
    "compress_after_days",
    "price_samples_retention_days",
    "stream_flush_interval_seconds",
    "stream_buffer_rows",
    "stream_idle_timeout_seconds",
    "stream_streams_per_connection",
    "automation_interval_seconds",
    "api_tokens",
}
API_TOKENS_ENV = "CRYPTO_API_TOKENS"
"""Comma-separated bearer tokens of the HTTP API; when set, they replace the config's ``api_tokens``."""
_TOKEN = re.compile(r"^[\x21-\x7e]{16,}$")  # printable ASCII, no spaces


def window_seconds(window: str) -> int:
    """'5m' -> 300; raises ValueError for anything else."""
    match = _WINDOW.match(window)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"window {window!r} is not like '30s', '1m', '5m', '1h' or '1d'")
    return int(match.group(1)) * _WINDOW_SECONDS[match.group(2)]


def parse_symbols(values: object, where: str = "config key 'symbols'") -> tuple[str, ...]:
    """Validate symbol names (upper-case Binance spelling); the error names ``where`` they came
    from ("config key 'symbols'", "flag --symbols") and the symbol, with its likely spelling."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    if not isinstance(values, (list, tuple)) or not values:
        raise ConfigError(f"{where}: expected a non-empty list of symbols, like BTCUSDT,ETHUSDT")
    out = []
    for value in values:
        text = str(value).strip()
        if not _SYMBOL.match(text):
            spelled = re.sub(r"[^A-Z0-9]", "", text.upper())
            hint = f"; did you mean {spelled}?" if _SYMBOL.match(spelled) else ""
            raise ConfigError(
                f"{where}: {text!r} is not a Binance symbol (upper-case letters and digits, like BTCUSDT){hint}"
            )
        if text not in out:
            out.append(text)
    return tuple(out)


BINANCE_OPENED = date(2017, 7, 14)
"""Binance's first trading day: no spot candle is older, so earlier days could only be empty."""


def _history_start(value: object) -> date:
    """The first partition day: a real day, from Binance's first trading day to today (UTC)."""
    try:
        day = parse_day(value)
    except InputError as err:
        raise ConfigError(f"config key 'history_start': {err}") from None
    today = datetime.now(UTC).date()
    if day > today:
        raise ConfigError(
            f"config key 'history_start': {day} is in the future (today is {today} UTC, the latest valid value)"
        )
    if day < BINANCE_OPENED:
        raise ConfigError(
            f"config key 'history_start': {day} is before Binance opened ({BINANCE_OPENED}, the earliest"
            " valid value): those days have no candles"
        )
    return day


def _parse_file(raw: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(str(key) for key in set(raw) - _KEYS)
    if unknown:
        key = unknown[0]
        raise ConfigError(
            f"unknown config key {key!r}{closest(key, _KEYS)}; known keys: {', '.join(sorted(_KEYS))}"
        )
    values: dict[str, Any] = {}
    if "symbols" in raw:
        values["symbols"] = parse_symbols(raw["symbols"])
    if "history_start" in raw:
        values["history_start"] = _history_start(raw["history_start"])
    if "sampling_interval_seconds" in raw:
        values["sampling_interval_seconds"] = _number(raw, "sampling_interval_seconds")
    if "downsample_windows" in raw:
        windows = raw["downsample_windows"]
        if not isinstance(windows, list) or not windows:
            raise ConfigError("config key 'downsample_windows': expected a list like ['1m', '5m']")
        for index, window in enumerate(windows):
            try:
                window_seconds(str(window))
            except ValueError as err:
                raise ConfigError(f"config key 'downsample_windows[{index}]': {err}") from None
        values["downsample_windows"] = tuple(str(w) for w in windows)
    if "rate_limit_share" in raw:
        values["rate_limit_share"] = _number(
            raw, "rate_limit_share", ceiling=1, why="a share of the exchange's limit"
        )
    for key in (
        "concurrency",
        "compress_after_days",
        "price_samples_retention_days",
        "stream_buffer_rows",
        "automation_interval_seconds",
    ):
        if key in raw:
            values[key] = _number(raw, key, whole=True)
    if "stream_flush_interval_seconds" in raw:
        values["stream_flush_interval_seconds"] = _number(
            raw,
            "stream_flush_interval_seconds",
            ceiling=1,
            why="a pushed row waits at most a second for its write to start",
        )
    if "rest_retry_seconds" in raw:
        values["rest_retry_seconds"] = _number(raw, "rest_retry_seconds")
    if "stream_idle_timeout_seconds" in raw:
        values["stream_idle_timeout_seconds"] = _number(raw, "stream_idle_timeout_seconds")
    if "stream_streams_per_connection" in raw:
        values["stream_streams_per_connection"] = _number(
            raw,
            "stream_streams_per_connection",
            whole=True,
            ceiling=1024,
            why="Binance's limit of streams per connection",
        )
    if "api_tokens" in raw:
        values["api_tokens"] = parse_api_tokens(raw["api_tokens"], "config key 'api_tokens'")
    return values


def parse_api_tokens(values: object, where: str) -> tuple[str, ...]:
    """Bearer tokens: a list (or comma-separated text) of at least 16 printable characters each,
    without spaces or commas; the error names ``where`` they came from and which one is bad."""
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    if not isinstance(values, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of tokens")
    for index, token in enumerate(values):
        if not isinstance(token, str) or not _TOKEN.match(token) or "," in token:
            raise ConfigError(
                f"{where}: token {index + 1} is not at least 16 printable characters without spaces or commas"
            )
    return tuple(dict.fromkeys(values))


def _number(
    raw: dict[str, Any],
    key: str,
    *,
    whole: bool = False,
    ceiling: float | None = None,
    why: str = "",
) -> int | float:
    """A positive number (no larger than ``ceiling``, for the reason ``why``) from the config; the
    error names the key."""
    try:
        return positive_number(raw[key], whole=whole, ceiling=ceiling)
    except InputError as err:
        raise ConfigError(f"config key {key!r}: {err}{f' ({why})' if why else ''}") from None


@overload
def url_from_env(
    name: str, default: str, schemes: tuple[str, ...], *, needs_host: bool = True
) -> str: ...
@overload
def url_from_env(
    name: str, default: None, schemes: tuple[str, ...], *, needs_host: bool = True
) -> str | None: ...
def url_from_env(
    name: str, default: str | None, schemes: tuple[str, ...], *, needs_host: bool = True
) -> str | None:
    """The URL in environment variable ``name`` (``default`` when unset or blank), checked."""
    value = os.environ.get(name, "").strip() or default
    if value is None:
        return None
    try:
        return check_url(value, schemes, needs_host=needs_host).rstrip("/")
    except InputError as err:
        raise ConfigError(f"environment variable {name}: {err}") from None


def database_url_from_env() -> str | None:
    """``DATABASE_URL`` when set (a postgresql:// URL; a Unix-socket one needs no host), else None."""
    return url_from_env("DATABASE_URL", None, ("postgresql", "postgres"), needs_host=False)


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: ``2024-02-30`` stays text, so the error can name its key
    (PyYAML's own date conversion fails with a bare 'day is out of range for month')."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_problem(err: yaml.YAMLError) -> str:
    """PyYAML's error on one line: where, then what."""
    mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(err).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


MAX_PARTITIONS_PER_ASSET = 120_000
"""Symbols x days up to today per asset. Dagster recommends at most 100,000 partitions per asset
(its UI slows down above); the catch-up sensor and ``crypto audit`` are measured at 110,000
(100 symbols x 3 years, BENCHMARKS.md), so this is where the platform stops promising."""


def _check_partition_count(values: dict[str, Any]) -> None:
    symbols = values.get("symbols", Settings.symbols)
    start = values.get("history_start", Settings.history_start)
    days = (datetime.now(UTC).date() - start).days + 1
    count = len(symbols) * days
    if count > MAX_PARTITIONS_PER_ASSET:
        fitting_days = MAX_PARTITIONS_PER_ASSET // len(symbols)
        raise ConfigError(
            f"config keys 'symbols' and 'history_start': {len(symbols)} symbols x {days:,} days = {count:,} partitions"
            f" per asset, above the {MAX_PARTITIONS_PER_ASSET:,} this platform supports (Dagster recommends at most"
            f" 100,000: its UI and sensors slow down); set history_start to"
            f" {datetime.now(UTC).date() - timedelta(days=fitting_days - 1)} or later, or split the symbols"
            f" over several configs of at most {MAX_PARTITIONS_PER_ASSET // days} symbols"
        )


def _archive_url_from_env() -> str:
    """``BINANCE_ARCHIVE_URL``: unset means Binance's archive; set but empty means none (REST only)."""
    if (
        os.environ.get("BINANCE_ARCHIVE_URL") is not None
        and not os.environ["BINANCE_ARCHIVE_URL"].strip()
    ):
        return ""
    return url_from_env("BINANCE_ARCHIVE_URL", DEFAULT_ARCHIVE_URL, ("http", "https"))


def load_settings(path: str | Path | None = None) -> Settings:
    """Read ``CRYPTO_CONFIG`` (or ``path``) and the environment into Settings."""
    config_path = path or os.environ.get("CRYPTO_CONFIG") or None
    values: dict[str, Any] = {}
    if config_path:
        config_path = Path(config_path)
        if not config_path.is_file():
            raise ConfigError(
                f"environment variable CRYPTO_CONFIG: config file {str(config_path)!r} does not exist"
            )
        try:
            raw = yaml.load(config_path.read_text(), Loader=_Loader) or {}
        except yaml.YAMLError as err:
            raise ConfigError(
                f"config file {str(config_path)!r} is not valid YAML: {_yaml_problem(err)}"
            ) from None
        if not isinstance(raw, dict):
            raise ConfigError(
                f"config file {str(config_path)!r}: expected a mapping of keys to values"
            )
        values = _parse_file(raw)
        _check_partition_count(values)
    if os.environ.get(API_TOKENS_ENV, "").strip():
        values["api_tokens"] = parse_api_tokens(
            os.environ[API_TOKENS_ENV], f"environment variable {API_TOKENS_ENV}"
        )
    return Settings(
        **values,
        database_url=database_url_from_env(),
        binance_api_url=url_from_env("BINANCE_API_URL", DEFAULT_API_URL, ("http", "https")),
        binance_ws_url=url_from_env("BINANCE_WS_URL", DEFAULT_WS_URL, ("ws", "wss")),
        binance_archive_url=_archive_url_from_env(),
        config_path=Path(config_path) if config_path else None,
    )
