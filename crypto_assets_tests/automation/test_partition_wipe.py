"""``forget_partitions`` is the one place that uses Dagster's private event-log tables."""

import dagster as dg
import pytest

from crypto_assets.automation.partition_wipe import forget_partitions

KEY = dg.AssetKey("candles_15m")


def test_dagster_still_has_no_public_partition_wipe_for_sql_storages():
    """When this fails, Dagster implemented ``wipe_asset_partitions`` for SQL event logs:
    replace ``forget_partitions``' private calls with it."""
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(KEY, partition="2024-01-01|BTCUSDT")
        )
        with pytest.raises(NotImplementedError):
            instance.wipe_asset_partitions(KEY, ["2024-01-01|BTCUSDT"])


def test_forgotten_partitions_are_missing_again_and_the_others_stay():
    with dg.instance_for_test() as instance:
        for key in ("2024-01-01|BTCUSDT", "2024-01-02|BTCUSDT", "2024-01-01|ETHUSDT"):
            instance.report_runless_asset_event(dg.AssetMaterialization(KEY, partition=key))
        assert forget_partitions(instance, KEY, ["2024-01-01|BTCUSDT", "2024-01-01|ETHUSDT"]) == 2
        assert instance.get_materialized_partitions(KEY) == {"2024-01-02|BTCUSDT"}
