"""Deterministic synthetic 1m candles: the same (symbol, minute) always gives the same candle.

Prices follow a seeded random walk in log space without ever replaying history:

* the log price at each UTC midnight is a closed form of the day number: a steady growth of
  30 % a year (so 2017 prices are a tenth of 2024's, roughly as on the real market) plus value
  noise at scales of 1, 2, 4 .. 2048 days, each weighted by the square root of its scale,
  which behaves like a random walk (about 3 % a day) yet costs a dozen hashes to evaluate;
* inside a day, 1440 normal 1m returns drawn from a generator seeded by (symbol, day) are bent
  into a Brownian bridge from that midnight's price to the next one, so every day is generated
  on its own and the last close of a day is the next day's first open.

Wicks, volumes (more in busy hours and on big moves), taker share, trade counts and the
volume-weighted price inside each candle come from the same per-day generator. Everything is
rounded to the symbol's tick and lot, so OHLC, volume and quote volume obey the exchange's
invariants exactly: low <= open, close <= high; quote / volume within [low, high]; taker
volumes within the totals.
"""

from __future__ import annotations

import math

import numpy as np

from crypto_assets.binance.simulator.candles import (
    CLOSE,
    CLOSE_TIME,
    COLUMNS,
    HIGH,
    LOW,
    OPEN,
    OPEN_TIME,
    QUOTE,
    TAKER_BASE,
    TAKER_QUOTE,
    TRADES,
    VOLUME,
)
from crypto_assets.binance.simulator.symbols import UNIT, SymbolSpec
from crypto_assets.binance.wire import DAY_MS, MINUTE_MS

MINUTES_PER_DAY = DAY_MS // MINUTE_MS
REFERENCE_DAY = 19970  # 2024-09-04: where each symbol's price level is its ``ref_price``
_SCALES = [2**k for k in range(12)]
_NOISE_WEIGHT = 0.015  # per sqrt(day): about 3 % daily moves in total
_GROWTH_PER_DAY = 0.30 / 365  # log growth
# Keeps every sum a monthly candle can reach (44,640 minutes) below int64's 9.2e18.
_MAX_MINUTE_UNITS = 10**14
_MASK64 = (1 << 64) - 1
_MINUTE_OFFSETS = np.arange(MINUTES_PER_DAY, dtype=np.int64) * MINUTE_MS
_BRIDGE = np.arange(1, MINUTES_PER_DAY + 1) / MINUTES_PER_DAY
# Busier around 15:00 UTC, quieter around 03:00.
_SEASON = 1.0 + 0.35 * np.cos(2 * np.pi * (np.arange(MINUTES_PER_DAY) - 900) / MINUTES_PER_DAY)


def _splitmix(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _lattice(seed: int, scale_index: int, node: int) -> float:
    """A fixed value in [-sqrt 3, sqrt 3] (variance 1) for one node of one noise scale."""
    bits = _splitmix(seed ^ _splitmix((scale_index << 48) ^ (node & _MASK64)))
    return (bits / 2**64 * 2.0 - 1.0) * math.sqrt(3.0)


def _midnight_noise(seed: int, day: int) -> float:
    total = 0.0
    for index, scale in enumerate(_SCALES):
        node, offset = divmod(day, scale)
        left, right = _lattice(seed, index, node), _lattice(seed, index, node + 1)
        total += math.sqrt(scale) * (left + (right - left) * offset / scale)
    return _NOISE_WEIGHT * total


def midnight_log_price(spec: SymbolSpec, day: int) -> float:
    """log(price / ref_price) at 00:00 UTC of ``day`` (days since the epoch)."""
    noise = _midnight_noise(spec.seed, day) - _midnight_noise(spec.seed, REFERENCE_DAY)
    return noise + _GROWTH_PER_DAY * (day - REFERENCE_DAY)


def day_minutes(spec: SymbolSpec, day: int) -> np.ndarray:
    """All 1440 candles of one UTC day as a candle matrix, listing and outages ignored."""
    rng = np.random.Generator(np.random.PCG64([spec.seed, day % 2**32]))
    start_log, end_log = midnight_log_price(spec, day), midnight_log_price(spec, day + 1)
    walk = np.cumsum(rng.standard_normal(MINUTES_PER_DAY) * spec.minute_vol)
    log_close = start_log + walk + _BRIDGE * (end_log - start_log - walk[-1])
    log_close[-1] = end_log  # exactly the next day's first open, not within a rounding error

    ref_ticks = spec.ref_price * UNIT / spec.tick
    close = np.maximum(1, np.rint(ref_ticks * np.exp(log_close))).astype(np.int64)
    open_ = np.empty_like(close)
    open_[0] = max(1, round(ref_ticks * math.exp(start_log)))
    open_[1:] = close[:-1]
    wicks = np.abs(rng.standard_normal((2, MINUTES_PER_DAY))) * (0.6 * spec.minute_vol) * close
    high = np.maximum(open_, close) + wicks[0].astype(np.int64)
    low = np.maximum(1, np.minimum(open_, close) - wicks[1].astype(np.int64))

    move = np.abs(np.diff(log_close, prepend=start_log)) / spec.minute_vol
    activity = (
        np.exp(0.6 * rng.standard_normal(MINUTES_PER_DAY) - 0.5) * _SEASON * (1.0 + 0.5 * move)
    )
    vwap = np.minimum(high, low + (rng.random(MINUTES_PER_DAY) * (high - low + 1)).astype(np.int64))
    per_lot = spec.lot * spec.tick // UNIT  # quote units per lot per tick
    quote_target = spec.quote_per_minute * UNIT * activity
    lots = np.rint(quote_target / (vwap * per_lot)).astype(np.int64)
    lots = np.clip(
        lots, 1, np.minimum(_MAX_MINUTE_UNITS // spec.lot, _MAX_MINUTE_UNITS // (vwap * per_lot))
    )
    taker_lots = (lots * rng.uniform(0.3, 0.7, MINUTES_PER_DAY)).astype(np.int64)
    trades = np.rint(
        lots
        * vwap
        * per_lot
        / (spec.trade_quote * UNIT)
        * np.exp(0.25 * rng.standard_normal(MINUTES_PER_DAY))
    )

    rows = np.empty((MINUTES_PER_DAY, COLUMNS), dtype=np.int64)
    rows[:, OPEN_TIME] = day * DAY_MS + _MINUTE_OFFSETS
    rows[:, CLOSE_TIME] = rows[:, OPEN_TIME] + (MINUTE_MS - 1)
    rows[:, OPEN] = open_ * spec.tick
    rows[:, HIGH] = high * spec.tick
    rows[:, LOW] = low * spec.tick
    rows[:, CLOSE] = close * spec.tick
    rows[:, VOLUME] = lots * spec.lot
    rows[:, QUOTE] = lots * vwap * per_lot
    rows[:, TRADES] = np.maximum(1, trades).astype(np.int64)
    rows[:, TAKER_BASE] = taker_lots * spec.lot
    rows[:, TAKER_QUOTE] = taker_lots * vwap * per_lot
    return rows


def forming_minute(spec: SymbolSpec, row: np.ndarray, elapsed_ms: int) -> list[int]:
    """The candle ``row`` as it stood ``elapsed_ms`` into its minute (0 <= elapsed < 60000), as
    a list of the row's values (plain ints: a stream push formats one per symbol every 2 s, and
    numpy scalars made this the simulator's hottest function at 2,000 streams).

    Close moves from open towards the final close; high, low, volumes and the trade count only
    ever grow towards their final values. The partial candle keeps the same invariants (its
    volume-weighted price is clamped into its range so far).
    """
    part = elapsed_ms / MINUTE_MS
    tick, lot = spec.tick, spec.lot
    out = row.tolist()
    open_, high, low, close, volume = out[OPEN], out[HIGH], out[LOW], out[CLOSE], out[VOLUME]
    now_close = open_ + round((close - open_) * part / tick) * tick
    now_high = max(open_, now_close) + int((high - max(open_, close)) * part / tick) * tick
    now_low = min(open_, now_close) - int((min(open_, close) - low) * part / tick) * tick
    lots = max(1, int(volume // lot * part))
    taker_lots = int(out[TAKER_BASE] // lot * part)
    vwap = out[QUOTE] * UNIT // volume if volume else open_  # whole ticks for synthetic candles
    vwap = min(max(vwap, now_low), now_high)
    per_lot_unit = lot * vwap // UNIT
    out[HIGH], out[LOW], out[CLOSE] = now_high, now_low, now_close
    out[VOLUME] = lots * lot
    out[QUOTE] = lots * per_lot_unit
    out[TRADES] = max(1, int(out[TRADES] * part))
    out[TAKER_BASE] = taker_lots * lot
    out[TAKER_QUOTE] = taker_lots * per_lot_unit
    minute: list[int] = out
    return minute
