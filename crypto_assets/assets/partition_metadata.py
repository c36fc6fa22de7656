"""Metadata for each partition of a ranged run, in one call instead of one per partition.

``context.add_asset_metadata(metadata, partition_key=key)`` is Dagster's way to give each
partition of a ranged run its own materialization metadata. In Dagster 1.13 every call expands
the run's whole partition range to check the key: for the day x symbol definition that is a
``MultiPartitionKey`` built per partition of the run, so N calls cost O(N^2), about 18 ms a
partition at 730 partitions (a year of two symbols) and far more at 2,190. Here the keys are
checked once against the run's partitions and the metadata added to the step's accumulator in
one pass, which is what each of those calls does after its check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg


def add_partition_metadata(
    context: dg.AssetExecutionContext, by_partition: Mapping[str, Mapping[str, Any]]
) -> None:
    """Add ``by_partition[key]`` to the materialization of partition ``key`` of ``context``'s asset.

    Raises ``DagsterInvariantViolationError`` for a key the run does not target, as
    ``add_asset_metadata`` does. The one place that uses Dagster's private step context and
    metadata accumulator; ``crypto_assets_tests/assets/test_partition_metadata.py`` fails if
    they change.
    """
    from dagster._core.execution.context.metadata_logging import (
        AssetMetadataHandle,
        OutputMetadataAccumulator,
    )

    targeted = set(context.partition_keys)
    stray = sorted(str(key) for key in by_partition if key not in targeted)
    if stray:
        raise dg.DagsterInvariantViolationError(
            f"Attempted to add metadata for partition key(s) {', '.join(stray[:5])} that the run does not target."
        )
    step = context.op_execution_context._step_execution_context
    entries = dict(step._metadata_accumulator.per_output_metadata)
    for key, metadata in by_partition.items():
        handle = AssetMetadataHandle(asset_key=context.asset_key, partition_key=str(key))
        entries[handle] = {**entries.get(handle, {}), **metadata}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=entries)
