"""Faults of the WebSocket streams, switched on from Python (``server.streams.faults``) or HTTP.

Each is a way the exchange's streams misbehave and a collector must survive (durations are
wall-clock seconds, like every connection rule of the stream server):

* ``malformed_next_n``: the next n kline pushes (over every connection) are sent broken;
* ``stall_s``: for this long no connection sends anything (no pushes, no pings) though every
  socket stays open; pushes then resume at the present, as on the exchange (nothing replayed);
* ``refuse_s``: for this long every new stream connection is answered 503 (reconnects fail).

Two more are actions on the open connections, on ``StreamHub``: ``drop_all()`` (sockets cut
without a close frame) and ``shutdown_all()`` (a ``serverShutdown`` event, then the close).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from crypto_assets.binance.simulator.faults import checked_number


@dataclass(frozen=True)
class _State:
    malformed_next_n: int = 0
    stalled_until: float = 0.0  # time.monotonic()
    refused_until: float = 0.0


class StreamFaults:
    """Thread-safe stream fault switches."""

    NAMES = ("malformed_next_n", "stall_s", "refuse_s")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._state = _State()

    def update(self, **changes: object) -> dict[str, Any]:
        """Set some faults (unknown names and bad values raise ValueError); returns the new state."""
        unknown = sorted(set(changes) - set(self.NAMES))
        if unknown:
            raise ValueError(
                f"unknown stream fault(s) {', '.join(unknown)}: use {', '.join(self.NAMES)}"
            )
        now = time.monotonic()
        fields: dict[str, Any] = {}  # _State field -> value, each checked below
        if "malformed_next_n" in changes:
            fields["malformed_next_n"] = checked_number(
                "malformed_next_n", changes["malformed_next_n"], int, 0
            )
        if "stall_s" in changes:
            fields["stalled_until"] = now + checked_number("stall_s", changes["stall_s"], float, 0)
        if "refuse_s" in changes:
            fields["refused_until"] = now + checked_number(
                "refuse_s", changes["refuse_s"], float, 0
            )
        with self._lock:
            self._state = replace(self._state, **fields)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state: the malformed count left and the seconds of stall and refusal left."""
        state, now = self._state, time.monotonic()
        return {
            "malformed_next_n": state.malformed_next_n,
            "stall_s": round(max(0.0, state.stalled_until - now), 3),
            "refuse_s": round(max(0.0, state.refused_until - now), 3),
        }

    def take_malformed(self) -> bool:
        """Whether this push goes out broken (consumes one of ``malformed_next_n``)."""
        with self._lock:
            if self._state.malformed_next_n <= 0:
                return False
            self._state = replace(self._state, malformed_next_n=self._state.malformed_next_n - 1)
            return True

    def stalled(self) -> bool:
        return time.monotonic() < self._state.stalled_until

    def refusing(self) -> bool:
        return time.monotonic() < self._state.refused_until
