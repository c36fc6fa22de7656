"""``dagster_platform``: start Dagster's webserver and daemon for real on a throwaway instance.

A factory fixture: ``dagster_platform(config_yaml)`` returns a :class:`DagsterPlatform`
(``crypto_assets_tests/dagster_processes.py``) over the test warehouse (``db_url``, emptied
for the test) and the simulator; start its processes with ``start_webserver()``,
``stop_sensors(...)`` and ``start_daemon()``. Everything it started is stopped after the test.
"""

from __future__ import annotations

import pytest

from crypto_assets_tests.dagster_processes import DagsterPlatform


@pytest.fixture
def dagster_platform(tmp_path, pg_server, db_url, simulator_url):
    platforms: list[DagsterPlatform] = []

    def start(config: str) -> DagsterPlatform:
        platform = DagsterPlatform(
            tmp_path / f"platform{len(platforms)}", pg_server, db_url, simulator_url, config
        )
        platforms.append(platform)
        return platform

    yield start
    for platform in platforms:
        platform.stop()
