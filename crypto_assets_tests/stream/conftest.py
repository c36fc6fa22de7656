"""Fixtures for the collector tests: the fast-forward simulator (``fixtures.py``) and
``collector``, which starts an in-process ``Collector`` against it and the test database and
stops it (cleanly, through the same stop event SIGTERM sets) when the test ends.
"""

from __future__ import annotations

import pytest

from crypto_assets_tests.stream.fixtures import stream_simulator, stream_simulator_server  # noqa: F401 (fixtures)
from crypto_assets_tests.stream.helpers import CollectorThread


@pytest.fixture
def collector(stream_simulator, db_url):  # noqa: F811 (the imported fixture)
    """``collector(**config)`` starts one; every one started is stopped after the test."""
    started: list[CollectorThread] = []

    def start(**overrides) -> CollectorThread:
        thread = CollectorThread.start(stream_simulator, db_url, **overrides)
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop()
