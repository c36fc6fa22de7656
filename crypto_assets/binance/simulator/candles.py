"""Candle matrices and how finer candles add up to coarser ones.

A block of candles is an ``int64`` matrix with one row per candle and the 11 columns of a REST
kline row, in wire order; decimal columns hold integer counts of 1e-8. Coarser intervals are
built from finer candles the way the exchange builds them from trades: open of the first,
highest high, lowest low, close of the last, sums of volumes and trade counts. Candle open
times follow Binance: fixed intervals are aligned to the epoch, except ``1w`` (Mondays) and
``1M`` (calendar months).
"""

from __future__ import annotations

import numpy as np

from crypto_assets.binance.wire import DAY_MS, INTERVAL_MS

OPEN_TIME, OPEN, HIGH, LOW, CLOSE, VOLUME, CLOSE_TIME, QUOTE, TRADES, TAKER_BASE, TAKER_QUOTE = (
    range(11)
)
COLUMNS = 11
_SUMMED = [VOLUME, QUOTE, TRADES, TAKER_BASE, TAKER_QUOTE]
_WEEK_ORIGIN_MS = 4 * DAY_MS  # 1970-01-05, the first Monday of the epoch


def bucket_starts(times: np.ndarray, interval: str) -> np.ndarray:
    """Open time of the ``interval`` candle holding each instant of ``times`` (epoch ms)."""
    if interval == "1M":
        return (
            times.astype("datetime64[ms]")
            .astype("datetime64[M]")
            .astype("datetime64[ms]")
            .astype(np.int64)
        )
    length = INTERVAL_MS[interval]
    origin = _WEEK_ORIGIN_MS if interval == "1w" else 0
    starts: np.ndarray = times - (times - origin) % length
    return starts


def bucket_ends(starts: np.ndarray, interval: str) -> np.ndarray:
    """Open time of the candle after each candle opening at ``starts`` (its close time + 1 ms)."""
    if interval == "1M":
        months = starts.astype("datetime64[ms]").astype("datetime64[M]") + 1
        return months.astype("datetime64[ms]").astype(np.int64)
    return starts + INTERVAL_MS[interval]


def bucket_start(instant_ms: int, interval: str) -> int:
    """Open time of the ``interval`` candle holding one instant."""
    return int(bucket_starts(np.array([instant_ms], dtype=np.int64), interval)[0])


def bucket_end(start_ms: int, interval: str) -> int:
    """Open time of the candle after the one opening at ``start_ms``."""
    return int(bucket_ends(np.array([start_ms], dtype=np.int64), interval)[0])


def aggregate(rows: np.ndarray, interval: str) -> np.ndarray:
    """Finer candles (sorted by open time, any gaps) -> the ``interval`` candles they make up.

    A coarser candle exists when at least one finer candle falls in it; its close time is the
    end of its interval whatever candles were missing.
    """
    if len(rows) == 0:
        return rows
    keys = bucket_starts(rows[:, OPEN_TIME], interval)
    first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    last = np.concatenate((first[1:], [len(rows)])) - 1
    out = np.empty((len(first), COLUMNS), dtype=np.int64)
    out[:, OPEN_TIME] = keys[first]
    out[:, OPEN] = rows[first, OPEN]
    out[:, HIGH] = np.maximum.reduceat(rows[:, HIGH], first)
    out[:, LOW] = np.minimum.reduceat(rows[:, LOW], first)
    out[:, CLOSE] = rows[last, CLOSE]
    out[:, CLOSE_TIME] = bucket_ends(keys[first], interval) - 1
    out[:, _SUMMED] = np.add.reduceat(rows[:, _SUMMED], first, axis=0)
    return out
