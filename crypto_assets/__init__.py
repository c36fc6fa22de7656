"""crypto-assets: Binance spot market data as Dagster assets in TimescaleDB."""

import warnings

# Dagster marks backfill policies and multi-partition mappings as beta; the platform relies on
# them on purpose, so the warning would only be noise on every command and in the UI logs.
warnings.filterwarnings("ignore", message=r".* is currently in beta")
