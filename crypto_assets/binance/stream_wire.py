"""Binance's WebSocket kline messages: stream names and URLs, control requests, frames -> typed events.

A frame is trusted only after every field the warehouse stores has been checked: prices and
quantities must be plain decimal strings matched whole (they go into ``numeric`` columns and
COPY text as sent: ``"1.0\n"`` would break a batch), times within ``timestamptz``'s range and
counts within ``bigint``'s, ``x`` a boolean, the candle a whole minute of the subscribed
interval, the symbol one that was subscribed. Anything else raises ``MalformedFrame`` with a
short ``reason`` (what the collector counts per kind) and a message saying what is wrong, so
the collector can drop it alone, count it and carry on.

Control messages (``SUBSCRIBE``/``UNSUBSCRIBE``, see ``control_request``) are answered with
``{"result": null, "id": N}`` or ``{"error": {"code": .., "msg": ..}, "id": N}``: ``Reply``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, NamedTuple, TypeGuard
from urllib.parse import quote

from crypto_assets.binance.wire import Kline, interval_ms

_DECIMAL = r"[0-9]{1,30}(?:\.[0-9]{1,30})?"
_ONE_DECIMAL = re.compile(_DECIMAL)  # always fullmatch: "1.0\n" is not one
_DECIMAL_FIELDS = ("o", "h", "l", "c", "v", "q", "V", "Q")
_ALL_DECIMALS = re.compile(
    rf"(?:{_DECIMAL} ){{{len(_DECIMAL_FIELDS) - 1}}}{_DECIMAL}"
)  # space-joined
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: every instant PostgreSQL's timestamptz and the COPY text take
MAX_BIGINT = 2**63 - 1
SERVER_SHUTDOWN = "serverShutdown"


class MalformedFrame(ValueError):
    """A stream message that is not a well-formed kline event: ``reason`` names the kind of fault
    (a short fixed text, for counting), the message says exactly what is wrong."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        super().__init__(detail or reason)


class KlineEvent(NamedTuple):
    """One kline push: the candle as it stands at ``event_ms`` (final when ``is_closed``)."""

    symbol: str
    event_ms: int
    kline: Kline
    is_closed: bool


class ServerShutdown(NamedTuple):
    """The server announced it will close this connection: reconnect now."""

    event_ms: int | None


class Reply(NamedTuple):
    """The answer to a control request: ``error`` is None on success (``result`` is then the
    request's result: null for SUBSCRIBE, the list for LIST_SUBSCRIPTIONS)."""

    id: int | str | None
    result: object
    error: str | None


def control_request(method: str, streams: list[str], request_id: int) -> str:
    """``{"method": "SUBSCRIBE", "params": [...], "id": N}`` as compact JSON text."""
    return json.dumps(
        {"method": method, "params": streams, "id": request_id}, separators=(",", ":")
    )


def stream_name(symbol: str, interval: str = "1m") -> str:
    """``BTCUSDT`` -> ``btcusdt@kline_1m`` (stream names are lower case)."""
    return f"{symbol.lower()}@kline_{interval}"


def combined_stream_url(base_url: str, streams: list[str]) -> str:
    """``wss://host:443`` + names -> ``wss://host:443/stream?streams=a@kline_1m/b@kline_1m``."""
    return f"{base_url.rstrip('/')}/stream?streams={quote('/'.join(streams), safe='/@_')}"


def url_and_rest(base_url: str, streams: list[str], max_chars: int) -> tuple[str, int]:
    """The combined-stream URL naming as many of ``streams`` (at least one) as fit in
    ``max_chars``, and how many it names; the rest are for ``SUBSCRIBE``."""
    url = combined_stream_url(base_url, streams[:1])
    count = 1
    for name in streams[1:]:
        longer = f"{url}/{quote(name, safe='@_')}"
        if len(longer) > max_chars:
            break
        url, count = longer, count + 1
    return url, count


def parse_message(
    text: str | bytes, interval: str = "1m", symbols: Collection[str] | None = None
) -> KlineEvent | ServerShutdown | Reply:
    """A raw or combined-stream message -> ``KlineEvent``, ``ServerShutdown`` or ``Reply``;
    with ``symbols``, a kline of any other symbol is malformed too."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError as err:
        raise MalformedFrame("not JSON", f"not JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(message, dict):
        raise MalformedFrame(
            "not a JSON object", f"expected a JSON object, got {type(message).__name__}"
        )
    if "id" in message and ("result" in message or "error" in message):
        return _reply(message)
    payload = message.get("data", message) if "stream" in message else message
    payload = payload.get("event", payload) if isinstance(payload, dict) else payload
    if not isinstance(payload, dict):
        raise MalformedFrame(
            "not a JSON object", "the 'data' of a combined-stream message is not an object"
        )
    kind = payload.get("e")
    if kind == SERVER_SHUTDOWN:
        event_ms = payload.get("E")
        return ServerShutdown(event_ms if _is_int(event_ms) else None)
    if kind != "kline":
        raise MalformedFrame(
            "unexpected event type", f"unexpected event type {kind!r} (expected 'kline')"
        )
    event = _kline_event(payload, interval)
    if symbols is not None and event.symbol not in symbols:
        raise MalformedFrame(
            "symbol not subscribed",
            f"symbol {event.symbol!r} is not one this connection subscribed to",
        )
    return event


def _reply(message: dict[str, Any]) -> Reply:
    error = message.get("error")
    if error is None:
        return Reply(message["id"], message.get("result"), None)
    if isinstance(error, dict):
        error = f"code {error.get('code')}: {error.get('msg')}"
    return Reply(message["id"], None, str(error))


def _kline_event(payload: dict[str, Any], interval: str) -> KlineEvent:
    return _well_formed(payload, interval) or _checked(payload, interval)


def _well_formed(payload: dict[str, Any], interval: str) -> KlineEvent | None:
    """The event when every check passes, else None (``_checked`` then says what is wrong).

    The same checks as ``_checked`` in one expression: a 2,000-symbol tick is 2,000 messages,
    and this is most of the collector's work per message.
    """
    try:
        candle, event_ms, symbol = payload["k"], payload["E"], payload["s"]
        t, close_ms, trades, closed = candle["t"], candle["T"], candle["n"], candle["x"]
        decimals = " ".join([candle[name] for name in _DECIMAL_FIELDS])
    except (KeyError, TypeError):
        return None
    if not (
        type(event_ms) is int
        and type(t) is int
        and type(close_ms) is int
        and type(trades) is int
        and type(closed) is bool
        and type(symbol) is str
        and symbol
        and candle.get("s", symbol) == symbol
        and candle.get("i") == interval
        and 0 <= event_ms <= MAX_MS
        and 0 <= t <= MAX_MS
        and 0 <= close_ms <= MAX_MS
        and 0 <= trades <= MAX_BIGINT
        and t % (step := interval_ms(interval)) == 0
        and close_ms == t + step - 1
        and _ALL_DECIMALS.fullmatch(decimals)
    ):
        return None
    k = candle
    kline = Kline(
        t, k["o"], k["h"], k["l"], k["c"], k["v"], close_ms, k["q"], trades, k["V"], k["Q"]
    )
    return KlineEvent(symbol, event_ms, kline, closed)


def _checked(payload: dict[str, Any], interval: str) -> KlineEvent:
    candle = payload.get("k")
    if not isinstance(candle, dict):
        raise MalformedFrame("no candle", "field 'k' (the candle) is missing or not an object")
    event_ms, symbol = payload.get("E"), payload.get("s")
    if not _is_int(event_ms) or not 0 <= event_ms <= MAX_MS:
        raise MalformedFrame(
            "bad E (event time)", f"field 'E' (event time) is not an integer instant: {event_ms!r}"
        )
    if not isinstance(symbol, str) or not symbol or candle.get("s", symbol) != symbol:
        raise MalformedFrame(
            "bad s (symbol)",
            f"field 's' (symbol) is missing or disagrees with the candle's: {symbol!r}",
        )
    if candle.get("i") != interval:
        raise MalformedFrame(
            "wrong interval", f"field 'k.i' is {candle.get('i')!r}, expected {interval!r}"
        )
    for name, high in (("t", MAX_MS), ("T", MAX_MS), ("n", MAX_BIGINT)):
        value = candle.get(name)
        if not _is_int(value) or not 0 <= value <= high:
            raise MalformedFrame(
                f"bad k.{name}", f"field 'k.{name}' is not an integer in [0, {high}]: {value!r}"
            )
    step = interval_ms(interval)
    if candle["t"] % step or candle["T"] != candle["t"] + step - 1:
        raise MalformedFrame(
            "not a whole candle",
            f"candle times t={candle['t']} T={candle['T']} are not one whole {interval} candle",
        )
    for name in _DECIMAL_FIELDS:
        value = candle.get(name)
        if not isinstance(value, str) or not _ONE_DECIMAL.fullmatch(value):
            raise MalformedFrame(
                f"bad k.{name}", f"field 'k.{name}' is not a decimal string: {value!r}"
            )
    if not isinstance(candle.get("x"), bool):
        raise MalformedFrame(
            "bad k.x", f"field 'k.x' (closed) is not true/false: {candle.get('x')!r}"
        )
    kline = Kline(
        candle["t"],
        candle["o"],
        candle["h"],
        candle["l"],
        candle["c"],
        candle["v"],
        candle["T"],
        candle["q"],
        candle["n"],
        candle["V"],
        candle["Q"],
    )
    return KlineEvent(symbol, event_ms, kline, candle["x"])


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
