"""Binance's wire format for klines: intervals, REST rows and table rows.

Binance sends prices and quantities as decimal strings. They are kept as strings all the way
to PostgreSQL's ``numeric`` columns, so every digit Binance sent reads back unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

MINUTE_MS = 60_000
DAY_MS = 86_400_000

# Every interval Binance accepts, with its length in milliseconds ("1M" is a calendar month
# and has no fixed length; it is valid on the wire but not used for history here).
INTERVAL_MS: dict[str, int | None] = {
    "1s": 1_000,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
    "1M": None,
}

KLINES_MAX_LIMIT = 1000


class UnsupportedIntervalError(ValueError):
    """An interval Binance does not know, or one with no fixed length."""


def interval_ms(interval: str) -> int:
    """Length of a fixed-length Binance interval in milliseconds; names the bad interval."""
    length = INTERVAL_MS.get(interval)
    if length is None:
        supported = ", ".join(name for name, ms in INTERVAL_MS.items() if ms is not None)
        raise UnsupportedIntervalError(f"unsupported interval {interval!r}: use one of {supported}")
    return length


class Kline(NamedTuple):
    """One candle as Binance sends it; decimal fields stay strings (exact)."""

    open_time: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    close_time: int
    quote_volume: str
    trade_count: int
    taker_buy_base_volume: str
    taker_buy_quote_volume: str


def parse_kline_row(row: list[Any]) -> Kline:
    """A 12-value REST kline row -> Kline (the 12th value, 'ignore', is dropped).

    Binance sends the times and the trade count as JSON integers and everything else as decimal
    strings, so the values are taken as they are (this runs for every candle of a backfill).
    """
    if len(row) < 11 or type(row[0]) is not int or type(row[6]) is not int:
        raise ValueError(f"not a kline row (12 values, integer times expected): {row!r}")
    return _make_kline(row[:11])


_make_kline = Kline._make


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def datetime_to_ms(value: datetime) -> int:
    """Aware datetime -> epoch milliseconds (naive datetimes are refused: UTC must be explicit)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} given: pass an aware UTC datetime")
    return int(value.timestamp() * 1000)
