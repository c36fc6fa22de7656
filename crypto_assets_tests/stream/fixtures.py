"""The fast-forward simulator every stream test uses (import the fixtures where needed).

``stream_simulator_server`` (session) runs market time 60x faster than the wall clock (a minute
a second) from 2025-03-10 00:00:40 UTC, pings every 0.5 s; ``stream_simulator`` is the same
server with every stream connection dropped and everything reset (the clock restarts there).
"""

from __future__ import annotations

import pytest

from crypto_assets_tests.stream.helpers import fast_forward_simulator


@pytest.fixture(scope="session")
def stream_simulator_server():
    with fast_forward_simulator() as server:
        yield server


@pytest.fixture
def stream_simulator(stream_simulator_server):
    stream_simulator_server.streams.drop_all()
    stream_simulator_server.reset()
    return stream_simulator_server
