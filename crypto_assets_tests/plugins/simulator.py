"""Binance simulator fixtures: one in-process server per test session, reset before each test.

- ``simulator_server`` (session): a started :class:`SimulatorServer` on 127.0.0.1 with a free
  port, Binance's default limits (6000 weight per 60 s, enforced) and the recorded BTCUSDT
  candles served where they exist (``recordings=True``).
- ``simulator`` (function): the same server after ``reset()``: no faults, no weight used, no
  bans, zeroed response counts, the wall clock. Change faults or the clock freely in a test.
- ``simulator_url`` (function): ``simulator.url``, e.g. to set ``BINANCE_API_URL``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crypto_assets.binance.simulator import SimulatorServer


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(recordings=True) as server:
        yield server


@pytest.fixture
def simulator(simulator_server: SimulatorServer) -> SimulatorServer:
    simulator_server.reset()
    return simulator_server


@pytest.fixture
def simulator_url(simulator: SimulatorServer) -> str:
    return simulator.url
