"""Live subscribing on an open stream connection: the client's JSON requests and Binance's replies.

    {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}  ->  {"result":null,"id":1}
    {"method": "UNSUBSCRIBE", "params": [...], "id": 2}               ->  {"result":null,"id":2}
    {"method": "LIST_SUBSCRIPTIONS", "id": 3}                          ->  {"result":["btcusdt@kline_1m"],"id":3}

Errors are answered as the exchange answers them, ``{"error": {"code": 2, "msg": "Invalid
request: invalid stream"}, "id": 1}`` (code 3: not JSON; code 2: a bad request, an unknown
method, an id that is not an unsigned integer, a stream that does not exist), and change
nothing. A SUBSCRIBE that would take the connection past its stream limit (1024 on Binance)
is refused whole the same way, naming the limit. ``SET_PROPERTY`` / ``GET_PROPERTY`` are
known methods but the simulator has no property to change (Binance's ``combined`` is fixed by
the URL here): they are answered ``{"code": 0, "msg": "Unknown property"}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from crypto_assets.binance.simulator.stream_request import StreamRequestError, Subscription

_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


def _reply(
    request_id: object, result: object = None, *, code: int | None = None, msg: str = ""
) -> str:
    body = (
        {"result": result, "id": request_id}
        if code is None
        else {"error": {"code": code, "msg": msg}, "id": request_id}
    )
    return json.dumps(body, separators=(",", ":"))


def answer(
    text: str | bytes,
    subscriptions: dict[str, Subscription],
    lookup: Callable[[str], Subscription],
    max_streams: int,
) -> tuple[str, bool]:
    """The reply to one client request, changing ``subscriptions`` (name -> stream) in place;
    also whether it was an error. ``lookup`` turns a name into a stream or raises ``StreamRequestError``."""
    try:
        request = json.loads(text)
    except json.JSONDecodeError as err:
        return _reply(
            None, code=3, msg=f"Invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ), True
    if not isinstance(request, dict) or "method" not in request:
        return _reply(None, code=2, msg="Invalid request: missing field `method`"), True
    request_id = request.get("id")
    if not (isinstance(request_id, int) and not isinstance(request_id, bool) and request_id >= 0):
        return _reply(
            None, code=2, msg="Invalid request: request ID must be an unsigned integer"
        ), True
    method, params = request["method"], request.get("params", [])
    if method not in _METHODS:
        expected = ", ".join(f"`{m}`" for m in _METHODS)
        return _reply(
            request_id,
            code=2,
            msg=f"Invalid request: unknown variant `{method}`, expected one of {expected}",
        ), True
    if method == "LIST_SUBSCRIPTIONS":
        return _reply(request_id, list(subscriptions)), False
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        return _reply(request_id, code=0, msg="Unknown property"), True
    if not isinstance(params, list) or not all(isinstance(name, str) for name in params):
        return _reply(request_id, code=2, msg="Invalid request: invalid stream"), True
    if method == "UNSUBSCRIBE":
        for name in params:
            subscriptions.pop(name, None)
        return _reply(request_id), False
    try:
        added = {name: lookup(name) for name in params if name not in subscriptions}
    except StreamRequestError:
        return _reply(request_id, code=2, msg="Invalid request: invalid stream"), True
    if len(subscriptions) + len(added) > max_streams:
        msg = f"Invalid request: too many streams: a connection carries at most {max_streams}"
        return _reply(request_id, code=2, msg=msg), True
    subscriptions.update(added)
    return _reply(request_id), False
