"""Session-wide fixtures: a throwaway PostgreSQL cluster and the Binance simulator.

Each family of fixtures lives in its own plugin module so they can grow independently.
Dagster batches event writes in tests as where the platform starts it (``environment.py``).
"""

import os

from crypto_assets.environment import EVENT_BATCH_SIZE

os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", EVENT_BATCH_SIZE)

pytest_plugins = [
    "crypto_assets_tests.plugins.postgres",
    "crypto_assets_tests.plugins.simulator",
    "crypto_assets_tests.plugins.dagster_platform",
]
