"""Asset ``price_downsampled``: the raw price series averaged per window width from the config."""

from collections.abc import Iterator

import dagster as dg

from crypto_assets.assets.aggregate_checks import (
    check_downsampled_invariants,
    check_downsampled_match_samples,
    table_check_specs,
)
from crypto_assets.assets.aggregate_deps import BACKFILL_POLICY, follow_upstream
from crypto_assets.assets.aggregate_run import aggregate_partition_metadata, partition_windows
from crypto_assets.assets.partition_results import finish
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import ConfigError, Settings
from crypto_assets.warehouse.locks import lock_symbols
from crypto_assets.warehouse.rollups import write_price_downsampled

# Per-partition metadata beside rows (buckets of every width) and first/last bucket.
_SAMPLES = {"samples_bucketed": "sum(t.sample_count)::bigint"}


def window_widths(settings: Settings) -> list[int]:
    """The configured widths in seconds; each must divide a day so buckets never straddle two partitions."""
    widths = settings.downsample_window_seconds()
    for index, seconds in enumerate(widths):
        if 86_400 % seconds:
            raise ConfigError(
                f"config key 'downsample_windows[{index}]': {settings.downsample_windows[index]!r} does not divide"
                " a day (use e.g. 30s, 1m, 5m, 15m, 1h)"
            )
    return widths


def build_price_downsampled(
    partitions_def: dg.PartitionsDefinition, settings: Settings
) -> dg.AssetsDefinition:
    """The ``price_downsampled`` asset over the given day x symbol partitions."""
    widths = window_widths(settings)

    @dg.asset(
        name="price_downsampled",
        partitions_def=partitions_def,
        deps=[dg.AssetDep("price_samples")],
        automation_condition=follow_upstream(),
        backfill_policy=BACKFILL_POLICY,
        check_specs=table_check_specs(
            "price_downsampled",
            "Per width, the buckets' sample counts add up to the day's samples.",
        ),
        group_name="aggregates",
        kinds={"postgres"},
        metadata={"window_widths": ", ".join(settings.downsample_windows)},
    )
    def price_downsampled(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetMaterialization]:
        """Average, median, min, max and sample count of the raw prices per window width.

        Widths come from config key ``downsample_windows`` (default 1m and 5m); buckets are
        aligned to UTC midnight. The median is exact: the middle price, or the mean of the two
        middle prices for an even count. The collector writes ``price_samples`` outside Dagster;
        the ``price_samples_watch`` sensor reports the days it changed (today at most every 15
        minutes, a finished day once), and each reported change re-runs its day. Computed in
        SQL: a median needs every price of a bucket sorted, which the database does where the
        rows are.
        """
        windows = partition_windows(context.partition_keys)
        with warehouse.transaction() as conn, conn.cursor() as cur:
            lock_symbols(cur, "price_downsampled", [w.symbol for w in windows])
            for w in windows:
                write_price_downsampled(cur, w.symbol, w.lo, w.hi, widths)
            checks = [
                check_downsampled_invariants(cur, windows),
                check_downsampled_match_samples(cur, windows, widths),
            ]
            metadata = aggregate_partition_metadata(
                context, cur, "price_downsampled", "bucket_start", windows, _SAMPLES
            )
        yield from finish(context, metadata, {}, checks)

    return price_downsampled
