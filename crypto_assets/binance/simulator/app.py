"""What happens to one request: faults, rate limits, the endpoint, the headers, the counts.

API requests (``/api/v3/...``) go through, in order: the latency fault; the reset fault (no
answer: the connection is reset, and nothing is counted); the geo block (451); the throttle
fault (a 429 counted by the rate limiter, so an IP that ignores its ``Retry-After`` is banned
with a 418, and a banned IP gets its 418); the 5xx faults; the rate limiter (its 429 or 418);
the endpoint (200, or 400 with Binance's error body); the truncation fault. Every API response
carries ``X-MBX-USED-WEIGHT-1M`` (the client IP's weight in the current window, whatever the window's
length) and, when the window is not one minute, also the header named after it (for a 6 s
window ``X-MBX-USED-WEIGHT-6S``), and is counted in ``Stats``. ``/_sim/...`` requests are the
simulator's own controls: no faults, no weight, not counted. ``/data/...`` is the kline archive
(``archive.py``): its own faults, no weight.
"""

from __future__ import annotations

import asyncio
import json

from crypto_assets.binance.simulator.admin import Admin
from crypto_assets.binance.simulator.archive import ArchiveFiles
from crypto_assets.binance.simulator.clock import SimClock
from crypto_assets.binance.simulator.faults import Faults
from crypto_assets.binance.simulator.http11 import Request, Response
from crypto_assets.binance.simulator.limits import RateLimiter, Verdict
from crypto_assets.binance.simulator.params import ApiError, Params
from crypto_assets.binance.simulator.rest import RestApi
from crypto_assets.binance.simulator.stats import Stats

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
GEO_BLOCK_MESSAGE = (
    "Service unavailable from a restricted location according to 'b. Eligibility' in "
    "https://www.binance.com/en/terms. Please contact customer service if you believe you "
    "received this message in error."
)


def _error(status: int, code: int, msg: str) -> Response:
    return Response(status, json.dumps({"code": code, "msg": msg}, separators=(",", ":")).encode())


class Application:
    """The request handler the HTTP server calls."""

    def __init__(
        self,
        rest: RestApi,
        admin: Admin,
        archive: ArchiveFiles,
        limiter: RateLimiter,
        faults: Faults,
        stats: Stats,
        clock: SimClock,
    ) -> None:
        self._rest, self._admin, self._archive = rest, admin, archive
        self._limiter, self._faults, self._stats, self._clock = limiter, faults, stats, clock

    async def __call__(self, request: Request) -> Response:
        if request.path.startswith("/_sim/"):
            return self._admin.handle(request)
        if self._archive.knows(request.path):
            return await self._archive.handle(request)
        if not self._rest.knows(request.path):
            return Response(404)
        if request.method != "GET":
            return _error(405, -1000, f"Request method '{request.method}' not supported")
        latency = self._faults.current.latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)
        if self._faults.take("reset_next_n"):
            return Response(0, reset=True)
        now = self._clock.now_ms()
        response, weight = self._api(request, now)
        used = str(self._limiter.used_weight(request.client_ip, now))
        response.headers.append((WEIGHT_HEADER, used))
        if self._limiter.header != WEIGHT_HEADER:
            response.headers.append((self._limiter.header, used))
        self._stats.record(response.status, weight, request.path)
        return response

    def _api(self, request: Request, now: int) -> tuple[Response, int]:
        """The response to an API request at ``now`` and the weight it was charged."""
        faults = self._faults.current
        if faults.geo_block:
            return _error(451, 0, GEO_BLOCK_MESSAGE), 0
        if self._faults.take("throttle_next_n"):  # through the ban logic: ignoring it draws a 418
            return self._too_many(
                self._limiter.refuse(request.client_ip, now, enforce=faults.enforce_limits)
            ), 0
        if self._faults.take("fail_next_n") or self._faults.roll_5xx():
            return _error(
                faults.error_status,
                -1001,
                "Internal error; unable to process your request. Please try again.",
            ), 0
        params = Params(request.query)
        weight = self._rest.weight(request.path, params)
        verdict = self._limiter.admit(request.client_ip, weight, now, enforce=faults.enforce_limits)
        if verdict.status != 200:
            return self._too_many(verdict), weight
        try:
            body = self._rest.handle(request.path, params)
        except ApiError as err:
            return Response(err.status, err.body()), weight
        return self._maybe_truncated(Response(200, body)), weight

    def _too_many(self, verdict: Verdict) -> Response:
        if verdict.status == 418:
            msg = (
                f"Way too much request weight used; IP banned until {verdict.banned_until_ms}. "
                "Please use WebSocket Streams for live updates to avoid bans."
            )
        else:
            msg = (
                f"Too much request weight used; current limit is {self._limiter.weight_limit} request weight per "
                f"{self._limiter.interval_num} {self._limiter.interval}. "
                "Please use WebSocket Streams for live updates to avoid polling the API."
            )
        response = _error(verdict.status, -1003, msg)
        response.headers.append(("Retry-After", str(verdict.retry_after_s)))
        return response

    def _maybe_truncated(self, response: Response) -> Response:
        if not self._faults.take("truncate_next_n"):
            return response
        half = len(response.body) // 2
        if self._faults.current.truncate_style == "json":
            response.body = response.body[:half]
        else:
            response.cut_at = half
        return response
