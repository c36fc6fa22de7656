"""The aggregate family: candles_1h, candles_1d, market_metrics_daily, price_downsampled.

``build_aggregates`` returns what ``definitions.py`` registers for them: the assets, an hourly
freshness check per table, and the specs of the upstream tables not built by Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import dagster as dg

from crypto_assets.assets.aggregate_checks import build_freshness_check
from crypto_assets.assets.aggregate_deps import upstream_specs
from crypto_assets.assets.downsampled import build_price_downsampled
from crypto_assets.assets.metrics import build_market_metrics_daily
from crypto_assets.assets.rollups import ROLLUPS, build_rollup
from crypto_assets.settings import Settings

# How old each table's newest row may be before its freshness check warns.
_FRESHNESS = {
    "candles_1h": ("t.open_time", timedelta(hours=3)),
    "candles_1d": ("t.open_time", timedelta(days=2)),
    "market_metrics_daily": ("(t.day::timestamp AT TIME ZONE 'UTC')", timedelta(days=2)),
    "price_downsampled": ("t.bucket_start", timedelta(hours=1)),
}


@dataclass(frozen=True)
class Aggregates:
    assets: list[dg.AssetsDefinition]
    upstream: list[dg.AssetSpec]
    checks: list[dg.AssetChecksDefinition]


def build_aggregates(partitions_def: dg.PartitionsDefinition, settings: Settings) -> Aggregates:
    """The aggregate assets, their freshness checks and the upstream specs, for these settings."""
    assets = [
        *[build_rollup(rollup, partitions_def) for rollup in ROLLUPS],
        build_market_metrics_daily(partitions_def),
        build_price_downsampled(partitions_def, settings),
    ]
    checks = [
        build_freshness_check(dg.AssetKey(name), time_sql, settings.symbols, max_age)
        for name, (time_sql, max_age) in _FRESHNESS.items()
    ]
    return Aggregates(assets, upstream_specs(partitions_def), checks)
