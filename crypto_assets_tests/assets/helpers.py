"""Shared helpers for asset tests: settings, resources and one-call materialization."""

from datetime import date

import dagster as dg

from crypto_assets.assets.candles_1m import build_candles_1m
from crypto_assets.assets.candles_15m import build_candles_15m
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.automation.run_shapes import RANGE_END_TAG, RANGE_START_TAG
from crypto_assets.resources import BinanceResource, WarehouseResource
from crypto_assets.settings import Settings


def test_settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2024, 1, 1)) -> Settings:
    return Settings(symbols=tuple(symbols), history_start=history_start)


ASSET_BUILDERS = {"candles_15m": build_candles_15m, "candles_1m": build_candles_1m}


def resources(binance_url: str, database_url: str, archive_url: str | None = None) -> dict:
    """The assets' resources; the simulator serves the archive too (``archive_url`` "" for none)."""
    return {
        "binance": BinanceResource(
            base_url=binance_url,
            archive_url=binance_url if archive_url is None else archive_url,
            concurrency=4,
        ),
        "warehouse": WarehouseResource(database_url=database_url),
    }


def materialize_range(
    asset_name, settings, binance_url, database_url, first, last, instance=None, archive_url=None
):
    """Materialize days first..last (strings 'YYYY-MM-DD|SYMBOL') in one run."""
    asset = ASSET_BUILDERS[asset_name](day_symbol_partitions(settings))
    return dg.materialize(
        [asset],
        resources=resources(binance_url, database_url, archive_url),
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        raise_on_error=False,
    )


def check_results(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def partition_metadata(result) -> dict[str, dict]:
    """Each materialized partition's own metadata, by partition key."""
    return {
        e.materialization.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


test_settings.__test__ = False  # type: ignore[attr-defined]  # pytest: a factory, not a test
