"""The simulator's idea of "now", shared by REST, rate limits and the WebSocket streams.

By default the simulated exchange runs on the wall clock. Tests move "the present" with an
offset, freeze it at a chosen instant, or run market time ``speed`` times faster than the wall
clock from a starting instant (a stream benchmark then sees a candle close every 60/speed s).
The same clock drives the rate-limit windows, so a frozen clock also freezes them: a test that
counts weight sees no window roll over under its feet.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

_KEEP: Any = object()


def _wall_ms() -> float:
    return time.time() * 1000.0


class _State(NamedTuple):
    """Market time ``market`` at wall time ``wall``, running ``speed`` x; or ``frozen``."""

    wall: float
    market: float
    speed: float
    frozen: int | None

    def now(self, wall: float) -> float:
        return (
            self.frozen
            if self.frozen is not None
            else self.market + (wall - self.wall) * self.speed
        )


class SimClock:
    """Thread-safe simulated clock in epoch milliseconds (UTC)."""

    def __init__(
        self,
        *,
        offset_ms: int | None = None,
        frozen_now_ms: int | None = None,
        speed: float = 1.0,
        start_ms: int | None = None,
    ) -> None:
        self._initial = (offset_ms, frozen_now_ms, speed, start_ms)
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to the settings given to the constructor."""
        wall = _wall_ms()
        with self._lock:
            self._state = _State(wall, wall, 1.0, None)
        offset_ms, frozen_now_ms, speed, start_ms = self._initial
        self.set(offset_ms=offset_ms, frozen_now_ms=frozen_now_ms, speed=speed, start_ms=start_ms)

    def set(
        self,
        *,
        frozen_now_ms: int | None = _KEEP,
        offset_ms: int | None = None,
        speed: float | None = None,
        start_ms: int | None = None,
    ) -> None:
        """Change the clock.

        ``frozen_now_ms``: an instant to stand still at (``None`` lets time run again, from the
        frozen instant unless an offset or start is given). ``offset_ms``: market time = wall
        time + offset. ``start_ms`` + ``speed``: market time starts at ``start_ms`` now and runs
        ``speed`` times faster than the wall clock; ``speed`` alone keeps the current instant.
        """
        if speed is not None and not float(speed) > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if offset_ms is not None and start_ms is not None:
            raise ValueError(
                "give offset_ms or start_ms, not both: both say where market time is now"
            )
        wall = _wall_ms()
        with self._lock:
            state = self._state
            if offset_ms is not None:
                market = wall + float(offset_ms)
            elif start_ms is not None:
                market = float(start_ms)
            else:
                market = state.now(wall)
            frozen = (
                state.frozen
                if frozen_now_ms is _KEEP
                else (None if frozen_now_ms is None else int(frozen_now_ms))
            )
            self._state = _State(
                wall, market, state.speed if speed is None else float(speed), frozen
            )

    def freeze(self, now_ms: int) -> None:
        """Stand still at ``now_ms`` (shorthand for ``set(frozen_now_ms=now_ms)``)."""
        self.set(frozen_now_ms=now_ms)

    def now_ms(self) -> int:
        """The simulated present, epoch milliseconds."""
        return int(self._state.now(_wall_ms()))

    def wall_seconds_until(self, market_ms: int) -> float | None:
        """Wall-clock seconds until market time reaches ``market_ms`` (0 if it has), None while frozen."""
        state = self._state
        if state.frozen is not None:
            return None if state.frozen < market_ms else 0.0
        return max(0.0, (market_ms - state.now(_wall_ms())) / state.speed / 1000.0)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state, as ``GET /_sim/clock`` shows it (``offset_ms`` only at speed 1)."""
        state = self._state
        offset = round(state.market - state.wall) if state.speed == 1.0 else None
        return {
            "now_ms": int(state.now(_wall_ms())),
            "frozen_now_ms": state.frozen,
            "offset_ms": offset,
            "speed": state.speed,
        }
