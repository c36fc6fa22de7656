"""Real Binance klines, recorded from the exchange, served verbatim where they exist.

With ``recordings=True`` these rows replace the synthetic candles with the same open time:
BTCUSDT 1m on 2024-09-04 02:27 .. 19:06 and BTCUSDT 15m from 2024-08-22 06:30 to 2024-09-01
16:15 (1000 rows each). Recorded 1m candles replace synthetic minutes before anything is built
from them, so coarser candles of 2024-09-04 are made of the real minutes; the recorded 15m
candles are real for their own interval only (the synthetic minutes under them differ).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from crypto_assets.binance.simulator.candles import CLOSE_TIME, OPEN_TIME, TRADES
from crypto_assets.binance.simulator.symbols import decimal_units

_FILES = {
    ("BTCUSDT", "1m"): "BTCUSDT_1m_klines_2024-09-04.json",
    ("BTCUSDT", "15m"): "BTCUSDT_15m_klines_2024-08-22_09-01.json",
}


def rows_to_matrix(rows: list[list[Any]]) -> np.ndarray:
    """REST kline rows (as parsed from JSON) -> candle matrix, decimals as 1e-8 counts."""
    matrix = np.empty((len(rows), 11), dtype=np.int64)
    for index, row in enumerate(rows):
        matrix[index] = [
            int(value) if col in (OPEN_TIME, CLOSE_TIME, TRADES) else decimal_units(value)
            for col, value in enumerate(row[:11])
        ]
    return matrix


@cache
def recorded(symbol: str, interval: str) -> np.ndarray | None:
    """The recorded candles of (symbol, interval), oldest first, or None when none were recorded."""
    name = _FILES.get((symbol, interval))
    if name is None:
        return None
    text = resources.files(__package__).joinpath(f"data/{name}").read_text()
    return rows_to_matrix(json.loads(text))


def overlay(rows: np.ndarray, recorded_rows: np.ndarray | None) -> np.ndarray:
    """``rows`` with every candle that was recorded (same open time) replaced by the recording."""
    if recorded_rows is None or len(rows) == 0:
        return rows
    times = recorded_rows[:, OPEN_TIME]
    positions = np.minimum(np.searchsorted(times, rows[:, OPEN_TIME]), len(times) - 1)
    hits = times[positions] == rows[:, OPEN_TIME]
    if not hits.any():
        return rows
    rows = rows.copy()
    rows[hits] = recorded_rows[positions[hits]]
    return rows
