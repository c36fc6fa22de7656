"""Binance's WebSocket kline messages: stream names and URLs, and frames -> typed events.

A frame is trusted only after every field the warehouse stores has been checked: prices and
quantities must be plain decimal strings (they go into ``numeric`` columns as sent, and one bad
value would fail a whole COPY batch), times and counts integers, ``x`` a boolean, the candle a
whole minute of the subscribed interval. Anything else raises ``MalformedFrame`` saying what is
wrong, so the collector can log it, count it and carry on.
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple
from urllib.parse import quote

from crypto_assets.binance.wire import Kline, interval_ms

_DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?$")
_DECIMAL_FIELDS = ("o", "h", "l", "c", "v", "q", "V", "Q")
SERVER_SHUTDOWN = "serverShutdown"


class MalformedFrame(ValueError):
    """A stream message that is not a well-formed kline event (the message says why)."""


class KlineEvent(NamedTuple):
    """One kline push: the candle as it stands at ``event_ms`` (final when ``is_closed``)."""

    symbol: str
    event_ms: int
    kline: Kline
    is_closed: bool


class ServerShutdown(NamedTuple):
    """The server announced it will close this connection: reconnect now."""

    event_ms: int | None


def stream_name(symbol: str, interval: str = "1m") -> str:
    """``BTCUSDT`` -> ``btcusdt@kline_1m`` (stream names are lower case)."""
    return f"{symbol.lower()}@kline_{interval}"


def combined_stream_url(base_url: str, streams: list[str]) -> str:
    """``wss://host:443`` + names -> ``wss://host:443/stream?streams=a@kline_1m/b@kline_1m``."""
    return f"{base_url.rstrip('/')}/stream?streams={quote('/'.join(streams), safe='/@_')}"


def parse_message(text: str | bytes, interval: str = "1m") -> KlineEvent | ServerShutdown:
    """A raw or combined-stream message -> ``KlineEvent`` or ``ServerShutdown``."""
    try:
        message = json.loads(text)
    except ValueError as err:
        raise MalformedFrame(f"not JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(message, dict):
        raise MalformedFrame(f"expected a JSON object, got {type(message).__name__}")
    payload = message.get("data", message) if "stream" in message else message
    payload = payload.get("event", payload) if isinstance(payload, dict) else payload
    if not isinstance(payload, dict):
        raise MalformedFrame("the 'data' of a combined-stream message is not an object")
    kind = payload.get("e")
    if kind == SERVER_SHUTDOWN:
        event_ms = payload.get("E")
        return ServerShutdown(event_ms if _is_int(event_ms) else None)
    if kind != "kline":
        raise MalformedFrame(f"unexpected event type {kind!r} (expected 'kline')")
    return _kline_event(payload, interval)


def _kline_event(payload: dict, interval: str) -> KlineEvent:
    candle = payload.get("k")
    if not isinstance(candle, dict):
        raise MalformedFrame("field 'k' (the candle) is missing or not an object")
    event_ms, symbol = payload.get("E"), payload.get("s")
    if not _is_int(event_ms):
        raise MalformedFrame(f"field 'E' (event time) is not an integer: {event_ms!r}")
    if not isinstance(symbol, str) or not symbol or candle.get("s", symbol) != symbol:
        raise MalformedFrame(f"field 's' (symbol) is missing or disagrees with the candle's: {symbol!r}")
    if candle.get("i") != interval:
        raise MalformedFrame(f"field 'k.i' is {candle.get('i')!r}, expected {interval!r}")
    for name in ("t", "T", "n"):
        if not _is_int(candle.get(name)) or candle[name] < 0:
            raise MalformedFrame(f"field 'k.{name}' is not a non-negative integer: {candle.get(name)!r}")
    step = interval_ms(interval)
    if candle["t"] % step or candle["T"] != candle["t"] + step - 1:
        raise MalformedFrame(f"candle times t={candle['t']} T={candle['T']} are not one whole {interval} candle")
    for name in _DECIMAL_FIELDS:
        value = candle.get(name)
        if not isinstance(value, str) or not _DECIMAL.match(value):
            raise MalformedFrame(f"field 'k.{name}' is not a decimal string: {value!r}")
    if not isinstance(candle.get("x"), bool):
        raise MalformedFrame(f"field 'k.x' (closed) is not true/false: {candle.get('x')!r}")
    kline = Kline(
        candle["t"], candle["o"], candle["h"], candle["l"], candle["c"], candle["v"],
        candle["T"], candle["q"], candle["n"], candle["V"], candle["Q"],
    )
    return KlineEvent(symbol, event_ms, kline, candle["x"])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
