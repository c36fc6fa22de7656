"""``add_partition_metadata``: each partition of a ranged run gets its own metadata, as with
Dagster's ``add_asset_metadata(partition_key=...)``, in one pass. Fails the day Dagster changes
the private step context or metadata accumulator it writes to."""

from datetime import date

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from crypto_assets.assets.partition_metadata import add_partition_metadata
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.settings import Settings

PARTITIONS = day_symbol_partitions(
    Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2024, 1, 1))
)


def materialize(body) -> dg.ExecuteInProcessResult:
    @dg.asset(partitions_def=PARTITIONS)
    def candles(context):
        body(context)
        return dg.MaterializeResult(metadata={"run_rows": 4})

    return dg.materialize(
        [candles],
        raise_on_error=False,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: "2024-01-01|BTCUSDT",
            ASSET_PARTITION_RANGE_END_TAG: "2024-01-02|ETHUSDT",
        },
    )


def by_partition(result) -> dict[str, dict]:
    return {
        event.materialization.partition: {
            k: v.value for k, v in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def test_each_partition_gets_its_own_metadata_next_to_the_run_s():
    def body(context):
        context.add_asset_metadata({"note": "public api"}, partition_key="2024-01-02|ETHUSDT")
        add_partition_metadata(
            context, {key: {"day_rows": len(key)} for key in context.partition_keys}
        )
        add_partition_metadata(context, {"2024-01-02|ETHUSDT": {"archive_rows": 1440}})

    result = materialize(body)
    assert result.success
    got = by_partition(result)
    assert sorted(got) == [
        "2024-01-01|BTCUSDT",
        "2024-01-01|ETHUSDT",
        "2024-01-02|BTCUSDT",
        "2024-01-02|ETHUSDT",
    ]
    assert got["2024-01-01|BTCUSDT"] == {"run_rows": 4, "day_rows": 18}
    assert got["2024-01-02|ETHUSDT"] == {
        "run_rows": 4,
        "day_rows": 18,
        "note": "public api",
        "archive_rows": 1440,
    }


def test_a_partition_the_run_does_not_target_is_refused():
    result = materialize(
        lambda context: add_partition_metadata(context, {"2024-01-05|BTCUSDT": {"day_rows": 1}})
    )
    assert not result.success
    failure = result.failure_data_for_node("candles")
    assert failure is not None and failure.error is not None
    assert "2024-01-05|BTCUSDT that the run does not target" in failure.error.to_string()
