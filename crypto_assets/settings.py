"""Typed settings from the YAML config file (``CRYPTO_CONFIG``) and the environment.

Every bad value raises ``ConfigError`` naming the config key (or environment variable) at fault,
so a typo never turns into a half-run backfill.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

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
    concurrency: int = 4
    compress_after_days: int = 7
    price_samples_retention_days: int = 30
    stream_flush_interval_seconds: float = 0.5
    stream_buffer_rows: int = 100_000
    stream_idle_timeout_seconds: float = 30.0
    stream_streams_per_connection: int = 1024
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
    "concurrency",
    "compress_after_days",
    "price_samples_retention_days",
    "stream_flush_interval_seconds",
    "stream_buffer_rows",
    "stream_idle_timeout_seconds",
    "stream_streams_per_connection",
}


def window_seconds(window: str) -> int:
    """'5m' -> 300; raises ValueError for anything else."""
    match = _WINDOW.match(window)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"window {window!r} is not like '30s', '1m', '5m', '1h' or '1d'")
    return int(match.group(1)) * _WINDOW_SECONDS[match.group(2)]


def parse_symbols(values, key: str = "symbols") -> tuple[str, ...]:
    """Validate symbol names (upper-case Binance spelling); the error names the key and symbol."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    if not isinstance(values, (list, tuple)) or not values:
        raise ConfigError(f"config key {key!r}: expected a non-empty list of symbols")
    out = []
    for index, value in enumerate(values):
        text = str(value).strip()
        if not _SYMBOL.match(text):
            raise ConfigError(
                f"config key '{key}[{index}]': {text!r} is not a Binance symbol"
                " (upper-case letters and digits, like BTCUSDT)"
            )
        if text not in out:
            out.append(text)
    return tuple(out)


def _parse_file(raw: dict) -> dict:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, _KEYS, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(f"unknown config key {key!r}{suggestion}; known keys: {', '.join(sorted(_KEYS))}")
    values: dict = {}
    if "symbols" in raw:
        values["symbols"] = parse_symbols(raw["symbols"])
    if "history_start" in raw:
        value = raw["history_start"]
        try:
            values["history_start"] = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"config key 'history_start': {value!r} is not a date like 2024-01-01") from None
    if "sampling_interval_seconds" in raw:
        values["sampling_interval_seconds"] = _positive_number(raw, "sampling_interval_seconds", float)
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
        values["rate_limit_share"] = _at_most(raw, "rate_limit_share", float, 1, "a share of the exchange limit")
    if "concurrency" in raw:
        values["concurrency"] = _positive_number(raw, "concurrency", int)
    for key in ("compress_after_days", "price_samples_retention_days", "stream_buffer_rows"):
        if key in raw:
            values[key] = _positive_number(raw, key, int)
    if "stream_flush_interval_seconds" in raw:
        values["stream_flush_interval_seconds"] = _at_most(
            raw, "stream_flush_interval_seconds", float, 1, "the collector writes at least once a second")
    if "stream_idle_timeout_seconds" in raw:
        values["stream_idle_timeout_seconds"] = _positive_number(raw, "stream_idle_timeout_seconds", float)
    if "stream_streams_per_connection" in raw:
        values["stream_streams_per_connection"] = _at_most(
            raw, "stream_streams_per_connection", int, 1024, "Binance's limit of streams per connection")
    return values


def _positive_number(raw: dict, key: str, kind):
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ConfigError(f"config key {key!r}: {value!r} is not a {'whole ' if kind is int else ''}number")
    if value <= 0:
        raise ConfigError(f"config key {key!r}: {value!r} must be greater than 0")
    return kind(value)


def _at_most(raw: dict, key: str, kind, ceiling: float, why: str):
    """A positive number no larger than ``ceiling``; the error says why the ceiling exists."""
    value = _positive_number(raw, key, kind)
    if value > ceiling:
        raise ConfigError(f"config key {key!r}: {value} is above {ceiling} ({why})")
    return value


def _url_from_env(name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = os.environ.get(name, "").strip() or default
    if not value.split("://", 1)[0] in schemes or "://" not in value:
        raise ConfigError(f"environment variable {name}: {value!r} is not a {' or '.join(schemes)} URL")
    return value.rstrip("/")


def _archive_url_from_env() -> str:
    """``BINANCE_ARCHIVE_URL``: unset means Binance's archive; set but empty means none (REST only)."""
    if os.environ.get("BINANCE_ARCHIVE_URL") is not None and not os.environ["BINANCE_ARCHIVE_URL"].strip():
        return ""
    return _url_from_env("BINANCE_ARCHIVE_URL", DEFAULT_ARCHIVE_URL, ("http", "https"))


def load_settings(path: str | Path | None = None) -> Settings:
    """Read ``CRYPTO_CONFIG`` (or ``path``) and the environment into Settings."""
    config_path = path or os.environ.get("CRYPTO_CONFIG") or None
    values: dict = {}
    if config_path:
        config_path = Path(config_path)
        if not config_path.is_file():
            raise ConfigError(f"CRYPTO_CONFIG: config file {str(config_path)!r} does not exist")
        try:
            raw = yaml.safe_load(config_path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {str(config_path)!r} is not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {str(config_path)!r}: expected a mapping of keys to values")
        values = _parse_file(raw)
    database_url = os.environ.get("DATABASE_URL", "").strip() or None
    if database_url and not database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"environment variable DATABASE_URL: {database_url!r} is not a postgresql:// URL")
    return Settings(
        **values,
        database_url=database_url,
        binance_api_url=_url_from_env("BINANCE_API_URL", DEFAULT_API_URL, ("http", "https")),
        binance_ws_url=_url_from_env("BINANCE_WS_URL", DEFAULT_WS_URL, ("ws", "wss")),
        binance_archive_url=_archive_url_from_env(),
        config_path=Path(config_path) if config_path else None,
    )
