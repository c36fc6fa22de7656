"""The simulator's control endpoints under ``/_sim/``, for tests and benchmarks in other processes.

* ``GET /_sim/faults`` the fault switches; ``POST /_sim/faults`` a JSON object of changes
  (see ``faults.py``), answered with the new state;
* ``POST /_sim/reset`` clears faults, weight counts, bans, response and stream counts (not the clock);
* ``GET /_sim/stats`` ``{"requests", "weight", "5xx", "200", "418", "429", ...}``: API responses
  by status (every status seen), 5xx total, weight charged;
* ``GET /_sim/clock`` the simulated present; ``POST /_sim/clock`` a JSON object with any of
  ``frozen_now_ms`` (null to let time run), ``offset_ms``, ``speed``, ``start_ms``, or
  ``{"reset": true}`` for the clock the server started with;
* ``GET /_sim/stream`` open stream connections and the streams they carry, stream faults and
  counts; ``POST /_sim/stream`` a JSON object with any of ``malformed_next_n``, ``stall_s``,
  ``refuse_s`` (see ``stream_faults.py``), ``"drop": true`` and ``"shutdown": true`` (or the
  grace in seconds).

A bad request is answered 400 with ``{"error": "..."}`` saying what to send instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from crypto_assets.binance.simulator.clock import SimClock
from crypto_assets.binance.simulator.faults import Faults
from crypto_assets.binance.simulator.http11 import Request, Response
from crypto_assets.binance.simulator.limits import RateLimiter
from crypto_assets.binance.simulator.stats import Stats
from crypto_assets.binance.simulator.ws import StreamHub

_CLOCK_FIELDS = {"frozen_now_ms", "offset_ms", "speed", "start_ms"}


def _reply(status: int, value: object) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":")).encode())


class _BadRequest(ValueError):
    pass


def _json_object(request: Request) -> dict[str, Any]:
    try:
        value = json.loads(request.body or b"{}")
    except ValueError:
        raise _BadRequest("the body must be a JSON object") from None
    if not isinstance(value, dict):
        raise _BadRequest("the body must be a JSON object")
    return value


class Admin:
    """Routes ``/_sim/...`` requests to the faults, limiter, stats, clock and streams."""

    def __init__(
        self,
        faults: Faults,
        limiter: RateLimiter,
        stats: Stats,
        clock: SimClock,
        streams: StreamHub,
    ) -> None:
        self._faults, self._limiter, self._stats, self._clock, self._streams = (
            faults,
            limiter,
            stats,
            clock,
            streams,
        )
        self._routes: dict[tuple[str, str], Callable[[Request], object]] = {
            ("GET", "/_sim/faults"): lambda r: self._faults.snapshot(),
            ("POST", "/_sim/faults"): lambda r: self._faults.update(**_json_object(r)),
            ("POST", "/_sim/reset"): self._reset,
            ("GET", "/_sim/stats"): lambda r: self._stats.snapshot(),
            ("GET", "/_sim/clock"): lambda r: self._clock.snapshot(),
            ("POST", "/_sim/clock"): self._set_clock,
            ("GET", "/_sim/stream"): lambda r: self._streams.snapshot(),
            ("POST", "/_sim/stream"): lambda r: self._streams.apply(_json_object(r)),
        }

    def handle(self, request: Request) -> Response:
        route = self._routes.get((request.method, request.path))
        if route is None:
            known = ", ".join(f"{method} {path}" for method, path in self._routes)
            return _reply(404, {"error": f"no {request.method} {request.path}: use one of {known}"})
        try:
            return _reply(200, route(request))
        except (ValueError, TypeError) as err:
            return _reply(400, {"error": str(err)})

    def _reset(self, request: Request) -> dict[str, Any]:
        self._faults.reset()
        self._limiter.reset()
        self._stats.reset()
        self._streams.reset()
        return {"ok": True}

    def _set_clock(self, request: Request) -> dict[str, Any]:
        changes = _json_object(request)
        if changes.pop("reset", False):
            self._clock.reset()
        unknown = sorted(set(changes) - _CLOCK_FIELDS)
        if unknown:
            raise _BadRequest(
                f"unknown clock field(s) {', '.join(unknown)}: use {', '.join(sorted(_CLOCK_FIELDS))} or reset"
            )
        if changes:
            self._clock.set(**changes)
        return self._clock.snapshot()
