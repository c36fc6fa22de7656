"""What the aggregate assets depend on, and when they re-run.

- ``upstream_specs()``: ``price_samples``, written by the stream collector, not by a Dagster run:
  an external asset whose changes the ``price_samples_watch`` sensor reports.
- ``follow_upstream()``: Dagster's ``eager`` condition for every day, not only the latest one,
  so re-materialising an old upstream partition (a backfill, a REST repair of a stream gap, the
  ``price_samples`` watch reporting new samples) re-materialises exactly the dependent aggregate
  partitions. It also fills partitions that become missing (after ``crypto clear``), as long as
  some upstream data exists. The ``automation_conditions`` sensor evaluates it.
"""

from __future__ import annotations

import dagster as dg

from crypto_assets.assets.partitions import DAY, SYMBOL

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
                DAY, dg.TimeWindowPartitionMapping(start_offset=-1, allow_nonexistent_upstream_partitions=True)
            ),
            SYMBOL: dg.DimensionPartitionMapping(SYMBOL, dg.IdentityPartitionMapping()),
        }
    )


def follow_upstream() -> dg.AutomationCondition:
    """Run a partition when an upstream partition it reads changed or it went missing."""
    return (
        (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
        & ~dg.AutomationCondition.all_deps_match(dg.AutomationCondition.missing())
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("eager, any day")
