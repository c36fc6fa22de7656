"""What the aggregate assets depend on, and when they re-run.

- ``upstream_specs()``: ``price_samples``, written by the stream collector, not by a Dagster run:
  an external asset whose changes the ``price_samples_watch`` sensor reports.
- ``follow_upstream()``: like Dagster's ``eager`` condition, for every day, not only the latest
  one: re-materialising an old upstream partition (a backfill, a REST repair of a stream gap, the
  ``price_samples`` watch reporting new samples) re-materialises exactly the dependent aggregate
  partitions, and every partition that is missing (never built, or cleared by ``crypto clear``)
  is built as soon as some upstream data exists. The ``automation_conditions`` sensor evaluates it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg

from crypto_assets.assets.partitions import DAY, SYMBOL

RECENT = timedelta(days=2)  # today and yesterday: followed even while upstream runs are writing

# A backfill of N partitions takes ceil(N / this) runs; one partition is a few ms of SQL.
MAX_PARTITIONS_PER_RUN = 1000
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)


def upstream_specs(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetSpec]:
    """Specs of the upstream tables the aggregates read that no asset here writes (same partitions)."""
    return [
        dg.AssetSpec(
            "price_samples",
            partitions_def=partitions_def,
            group_name="live",
            kinds={"postgres"},
            description="Raw prices, one row per stream push, written by the stream collector (`crypto stream`).",
        ),
    ]


def previous_and_same_day() -> dg.MultiPartitionMapping:
    """Day D depends on upstream days D-1 and D of the same symbol (D-1 may not exist)."""
    return dg.MultiPartitionMapping(
        {
            DAY: dg.DimensionPartitionMapping(
                DAY,
                dg.TimeWindowPartitionMapping(
                    start_offset=-1, allow_nonexistent_upstream_partitions=True
                ),
            ),
            SYMBOL: dg.DimensionPartitionMapping(SYMBOL, dg.IdentityPartitionMapping()),
        }
    )


def follow_upstream(rows_from: str | None = None) -> dg.AutomationCondition[Any]:
    """Run a partition that some upstream data can build: when it is missing (and its last run did
    not fail), or when a partition it reads changed since it was last requested or built.

    ``rows_from`` names the upstream asset that gives the asset its rows (``market_metrics_daily``
    has a row per day with a ``candles_1d`` row): the asset also waits until a partition of it
    that it reads is materialized. Without it, a history of 1m candles whose day candles were
    still waiting for their hours made 1,000 metrics partitions "materialized" with 0 rows.
    (Dagster does not count a request in the same tick through a mapping with a day offset: the
    previous day's candle is what lets a new day's metrics be asked for with its candle.)

    Unlike Dagster's ``eager()``, a partition already missing at the sensor's first tick is built
    too (a platform whose rollups never ran catches up), and a dependency requested in the same
    tick counts as data, so a new day's candles_1h, candles_1d and market_metrics_daily are asked
    for together, in one run, in dependency order. A failed partition waits for its upstream to
    change (or a backfill) instead of being retried every tick.

    It also waits while a run of an upstream asset is still writing (its checks, evaluated after
    all of its partitions' materializations, are in progress). A run records its partitions one
    by one, in no particular order; a tick in the middle would see a random sample of them, and
    the backfill for it would need a run per gap: one run of 84 partitions of candles_15m made
    30-odd rollup runs, against 3 (one per symbol) with this wait. Today and yesterday do not wait
    (two days cannot scatter into many runs), so they stay fresh during a long history catch-up.
    """
    upstream_has_data = ~dg.AutomationCondition.all_deps_match(
        dg.AutomationCondition.missing() & ~dg.AutomationCondition.will_be_requested()
    )
    if rows_from is not None:
        upstream_has_data &= (
            dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing())
            .allow(dg.AssetSelection.assets(rows_from))
            .with_label(f"a {rows_from} partition it reads is materialized")
        )
    unbuilt = dg.AutomationCondition.missing() & ~dg.AutomationCondition.execution_failed()
    stale = dg.AutomationCondition.any_deps_updated().since_last_handled()
    upstream_run_writing = dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.any_checks_match(dg.AutomationCondition.in_progress())
    ).with_label("an upstream run is still writing")
    recent = dg.AutomationCondition.in_latest_time_window(RECENT).with_label("today or yesterday")
    return (
        (unbuilt | stale)
        & upstream_has_data
        & (recent | ~upstream_run_writing)
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("follow upstream, any day")
