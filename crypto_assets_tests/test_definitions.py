"""The one Definitions object loads, with every asset, check, schedule and sensor the docs name."""

import dagster as dg

from crypto_assets.definitions import build_definitions
from crypto_assets.settings import Settings


def test_definitions_load_with_the_documented_names():
    defs = build_definitions(Settings(symbols=("BTCUSDT", "SOLUSDT")))
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assets = {key.to_user_string() for key in repo.asset_graph.get_all_asset_keys()}
    assert {
        "candles_15m",
        "candles_1m",
        "candles_1h",
        "candles_1d",
        "price_downsampled",
        "market_metrics_daily",
    } <= assets
    assert {"candles_15m_daily", "candles_1m_daily"} <= {s.name for s in repo.schedule_defs}
    assert "candles_15m_catch_up" in {s.name for s in repo.sensor_defs}


def test_symbols_come_from_the_config_without_code_changes():
    defs = build_definitions(Settings(symbols=("BTCUSDT", "SOLUSDT", "ADAUSDT")))
    partitions = defs.resolve_assets_def("candles_15m").partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)
    keys = partitions.get_partition_keys()[:10]
    symbols = {key.keys_by_dimension["symbol"] for key in keys}
    assert symbols == {"BTCUSDT", "SOLUSDT", "ADAUSDT"}


def test_the_partitioned_assets_are_the_asset_tables_on_one_partitions_definition():
    """``crypto audit`` and ``crypto clear`` take each asset table for the partitioned asset of
    its name, on ``day_symbol_partitions``, without loading the definitions."""
    from crypto_assets.assets.partitions import day_symbol_partitions
    from crypto_assets.warehouse.inventory import TIME_COLUMN

    settings = Settings(symbols=("BTCUSDT", "SOLUSDT"))
    partitioned = {
        spec.key.to_user_string(): spec.partitions_def
        for spec in build_definitions(settings).resolve_all_asset_specs()
        if spec.partitions_def is not None
    }
    assert partitioned == dict.fromkeys(TIME_COLUMN, day_symbol_partitions(settings))
