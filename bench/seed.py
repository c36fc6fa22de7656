"""Seed ``candles_1m`` with realistic synthetic candles, fast: vectorised with polars, loaded with COPY.

Each symbol gets a random walk of 1m candles (fixed seed, so every run seeds the same rows) with
Binance-shaped numeric strings: prices with 2 decimals, volumes with 8, trade counts, taker
volumes, ``open <= high``, ``low <= close`` and so on, every minute of every day present.
Shared by the aggregate and dashboard benchmarks.
"""

from __future__ import annotations

import io
import zlib
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from crypto_assets.warehouse.db import connect

MINUTE_MS = 60_000
_START_PRICE_CENTS = {
    "BTCUSDT": 6_000_000,
    "ETHUSDT": 300_000,
    "BNBUSDT": 55_000,
    "SOLUSDT": 14_000,
}


def _decimal_text(units: pl.Expr, scale: int) -> pl.Expr:
    """Integer units of 10^-scale -> '123.45' text, exactly (no float formatting)."""
    factor = 10**scale
    return pl.concat_str(
        [
            (units // factor).cast(pl.Utf8),
            pl.lit("."),
            (units % factor).cast(pl.Utf8).str.zfill(scale),
        ]
    )


def candle_frame(symbol: str, start: date, days: int) -> pl.DataFrame:
    """One symbol's 1m candles for ``days`` UTC days from ``start``, as COPY-ready text columns."""
    n = days * 1440
    rng = np.random.default_rng(zlib.crc32(symbol.encode()))
    start_cents = _START_PRICE_CENTS.get(symbol, int(rng.integers(100, 100_000)))
    log_path = np.cumsum(rng.normal(0.0, 0.0008, n + 1))
    prices = np.maximum(np.round(start_cents * np.exp(log_path)), 1).astype(np.int64)  # cents
    open_, close = prices[:-1], prices[1:]
    spread = (np.abs(rng.normal(0.0, 0.0004, n)) * open_).astype(np.int64)
    high = np.maximum(open_, close) + spread
    low = np.maximum(np.minimum(open_, close) - spread, 1)
    volume = rng.integers(1_000_000, 5_000_000_000, n)  # 0.01 .. 50 base units, 8 decimals
    taker = (volume * rng.uniform(0.2, 0.8, n)).astype(np.int64)
    mid = (high + low) // 2  # cents: quote volume = volume x mid, kept in units of 10^-8
    start_ms = int(datetime.combine(start, datetime.min.time(), tzinfo=UTC).timestamp() * 1000)
    frame = pl.DataFrame(
        {
            "open_ms": np.arange(start_ms, start_ms + n * MINUTE_MS, MINUTE_MS, dtype=np.int64),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "taker": taker,
            "quote": volume // 100 * mid,
            "taker_quote": taker // 100 * mid,
            "trades": rng.integers(50, 5_000, n),
        }
    )
    stamp = "%Y-%m-%d %H:%M:%S%.3f+00"
    return frame.select(
        pl.lit(symbol).alias("symbol"),
        pl.from_epoch("open_ms", time_unit="ms").dt.strftime(stamp).alias("open_time"),
        pl.from_epoch(pl.col("open_ms") + MINUTE_MS - 1, time_unit="ms")
        .dt.strftime(stamp)
        .alias("close_time"),
        *[_decimal_text(pl.col(c), 2).alias(c) for c in ("open", "high", "low", "close")],
        _decimal_text(pl.col("volume"), 8).alias("volume"),
        _decimal_text(pl.col("quote"), 8).alias("quote_volume"),
        pl.col("trades").alias("trade_count"),
        _decimal_text(pl.col("taker"), 8).alias("taker_buy_base_volume"),
        _decimal_text(pl.col("taker_quote"), 8).alias("taker_buy_quote_volume"),
        pl.lit("t").alias("is_closed"),
        pl.lit("rest").alias("source"),
    )


def seed_candles_1m(database_url: str, symbols: list[str], start: date, days: int) -> int:
    """Replace ``symbols``' candles_1m rows from ``start`` for ``days`` days; returns rows written."""
    conn = connect(database_url)
    written = 0
    try:
        with conn, conn.cursor() as cur:
            for symbol in symbols:
                frame = candle_frame(symbol, start, days)
                cur.execute(
                    "DELETE FROM candles_1m WHERE symbol = %s AND open_time >= %s AND open_time < %s",
                    (symbol, frame["open_time"][0], frame["close_time"][-1]),
                )
                buffer = io.BytesIO()
                frame.write_csv(buffer, separator="\t", include_header=False, quote_style="never")
                buffer.seek(0)
                cur.copy_expert(f"COPY candles_1m ({', '.join(frame.columns)}) FROM STDIN", buffer)
                written += frame.height
    finally:
        conn.close()
    return written
