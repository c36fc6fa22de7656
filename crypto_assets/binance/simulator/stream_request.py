"""Which streams a WebSocket request asks for: ``/ws/<stream>`` (raw) or ``/stream?streams=a/b``.

Stream names are Binance's, lower case: ``<symbol>@kline_<interval>``. The simulator streams
``kline_1m`` for every symbol of its universe. A request it cannot serve is refused before the
upgrade with the HTTP status and a Binance-style JSON error naming the bad stream: stricter
than the exchange (which may accept an unknown stream and stay silent), so a misconfigured
client fails loudly in tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from crypto_assets.binance.simulator.symbols import SymbolSpec

STREAMED_INTERVALS = ("1m",)
_NAME = re.compile(r"^([a-z0-9]+)@kline_([0-9a-zA-Z]+)$")


class StreamRequestError(ValueError):
    """A request the stream server refuses: ``status`` and a JSON ``body`` for the client."""

    def __init__(self, status: int, code: int, msg: str, *, retry_after_s: float = 0.0) -> None:
        super().__init__(msg)
        self.status = status
        self.retry_after_s = retry_after_s
        self.body = json.dumps({"code": code, "msg": msg}, separators=(",", ":"))


@dataclass(frozen=True)
class Subscription:
    """One stream of a connection: its name, symbol and interval."""

    name: str
    spec: SymbolSpec
    interval: str


@dataclass(frozen=True)
class StreamRoute:
    """What a connection serves; ``combined`` wraps each payload as ``{"stream", "data"}``."""

    subscriptions: tuple[Subscription, ...]
    combined: bool


def parse_route(
    path: str, query: str, symbols: dict[str, SymbolSpec], max_streams: int
) -> StreamRoute:
    """The streams of a request, or ``StreamRequestError`` saying which part is wrong."""
    if path == "/stream":
        values = parse_qs(query).get("streams")
        if not values:
            raise StreamRequestError(
                400,
                -1102,
                "Mandatory parameter 'streams' was not sent, was empty/null, or malformed.",
            )
        names, combined = values[0].split("/"), True
    elif path.startswith("/ws/"):
        names, combined = path[len("/ws/") :].split("/"), False
    else:
        raise StreamRequestError(
            404,
            -1000,
            f"No stream endpoint at {path}: use /ws/<stream> or /stream?streams=<a>/<b>.",
        )
    names = [name for name in dict.fromkeys(names) if name]
    if not names:
        raise StreamRequestError(400, -1102, "No stream name given.")
    if len(names) > max_streams:
        raise StreamRequestError(
            400,
            -1130,
            f"{len(names)} streams requested; a connection carries at most {max_streams}.",
        )
    return StreamRoute(tuple(subscription(name, symbols) for name in names), combined)


def subscription(name: str, symbols: dict[str, SymbolSpec]) -> Subscription:
    """The stream called ``name``, or ``StreamRequestError`` saying what is wrong with the name."""
    match = _NAME.match(name)
    if match is None:
        raise StreamRequestError(
            400,
            -1100,
            f"Invalid stream name {name!r}: expected <symbol>@kline_<interval> in lower case.",
        )
    symbol, interval = match.group(1).upper(), match.group(2)
    if interval not in STREAMED_INTERVALS:
        raise StreamRequestError(
            400,
            -1120,
            f"Invalid interval {interval!r} in stream {name!r}: the simulator streams {', '.join(STREAMED_INTERVALS)}.",
        )
    spec = symbols.get(symbol)
    if spec is None:
        raise StreamRequestError(400, -1121, f"Invalid symbol {symbol!r} in stream {name!r}.")
    return Subscription(name, spec, interval)
