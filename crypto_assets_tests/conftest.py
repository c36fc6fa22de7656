"""Session-wide fixtures: a throwaway PostgreSQL cluster and the Binance simulator.

Each family of fixtures lives in its own plugin module so they can grow independently.
"""

pytest_plugins = [
    "crypto_assets_tests.plugins.postgres",
    "crypto_assets_tests.plugins.simulator",
    "crypto_assets_tests.plugins.dagster_platform",
]
