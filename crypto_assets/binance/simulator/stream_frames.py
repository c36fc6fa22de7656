"""The text of the simulator's stream messages: kline events, ``serverShutdown``, malformed ones.

A kline event carries the same candle REST serves for that minute at that instant, in
Binance's field order and spelling (decimal strings with eight places, ``x`` true on the final
push), optionally wrapped for combined streams as ``{"stream": ..., "data": ...}``. Built with
one f-string each: a 200-symbol tick is 200 messages, so no ``json.dumps`` of nested dicts.
Trade ids are synthetic but consistent: ``L - f + 1`` is the candle's trade count.
"""

from __future__ import annotations

import json

import numpy as np

from crypto_assets.binance.simulator.candles import (
    CLOSE,
    CLOSE_TIME,
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
from crypto_assets.binance.simulator.symbols import units_text
from crypto_assets.binance.wire import MINUTE_MS

# Distinct first trade ids per minute: room for this many trades in one candle.
_TRADE_ID_STRIDE = 10_000_000


def kline_event(
    symbol: str, interval: str, row: np.ndarray | list[int], event_ms: int, closed: bool
) -> str:
    """The raw payload of one ``<symbol>@kline_<interval>`` push (symbol in Binance's upper case)."""
    o, h, low, c, v, q, tb, tq = (
        units_text(int(row[col]))
        for col in (OPEN, HIGH, LOW, CLOSE, VOLUME, QUOTE, TAKER_BASE, TAKER_QUOTE)
    )
    open_time, trades = int(row[OPEN_TIME]), int(row[TRADES])
    first_trade = open_time // MINUTE_MS * _TRADE_ID_STRIDE
    return (
        f'{{"e":"kline","E":{event_ms},"s":"{symbol}","k":{{"t":{open_time},"T":{int(row[CLOSE_TIME])},'
        f'"s":"{symbol}","i":"{interval}","f":{first_trade},"L":{first_trade + trades - 1},"o":"{o}","c":"{c}",'
        f'"h":"{h}","l":"{low}","v":"{v}","n":{trades},"x":{"true" if closed else "false"},"q":"{q}",'
        f'"V":"{tb}","Q":"{tq}","B":"0"}}}}'
    )


def combined(stream: str, payload: str) -> str:
    """A payload as a combined stream sends it: ``{"stream": "<name>", "data": <payload>}``."""
    return f'{{"stream":"{stream}","data":{payload}}}'


def server_shutdown(event_ms: int) -> str:
    """The event announcing that the server is about to close the connection."""
    return json.dumps({"event": {"e": "serverShutdown", "E": event_ms}}, separators=(",", ":"))


def malformed(payload: str, variant: int) -> str:
    """A broken version of ``payload``, in one of four ways real feeds break (by ``variant``)."""
    kind = variant % 4
    if kind == 0:
        return payload[: len(payload) // 2]  # cut short: not JSON
    if kind == 1:
        return payload.replace('"c":"', '"c":"NaN', 1)  # a price that is not a decimal
    if kind == 2:
        return payload.replace('"x":', '"x":"maybe","_":', 1)  # "closed" that is not a boolean
    return '{"e":"kline","E":"soon"}'  # the right event with no candle at all
