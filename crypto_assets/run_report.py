"""What a finished Dagster run did, in words for a terminal: rows written per symbol, and why it
failed (the error at the root, not the wrappers Dagster or a clean-up put around it).

Shared by ``crypto backfill`` (its in-process runs) and the ``runs`` service of ``crypto up``
(every run of the instance); both read the run's ``DagsterEvent``s.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from crypto_assets.assets.partitions import split_key

# Errors Dagster wraps around the one the code raised.
_WRAPPER_CLASSES = {
    "DagsterExecutionStepExecutionError",
    "DagsterUserCodeExecutionError",
    "RetryRequested",
}


def rows_per_symbol(
    events: Iterable[dg.DagsterEvent], asset_key: dg.AssetKey | None = None
) -> dict[str, int]:
    """Rows the run's partition materializations carry (metadata ``rows``), summed per symbol."""
    rows: dict[str, int] = {}
    for event in events:
        if not event.is_step_materialization:
            continue
        materialization = event.step_materialization_data.materialization
        if asset_key is not None and materialization.asset_key != asset_key:
            continue
        written = materialization.metadata.get("rows")
        if materialization.partition and isinstance(written, dg.IntMetadataValue):
            symbol = split_key(materialization.partition)[1]
            rows[symbol] = rows.get(symbol, 0) + (written.value or 0)
    return dict(sorted(rows.items()))


def root_cause(error) -> str:
    """``Type: first line`` of the error that started it all.

    Dagster's wrappers are looked through (their ``cause``). An error raised while another was
    being handled (its ``context``: a rollback on a connection already lost, say) is secondary:
    the one it interrupted is reported. Retries given up on say how many there were.
    """
    retries = ""
    while True:
        if error.message.startswith("Exceeded max_retries of "):
            retries = f" (after {error.message.split()[-1].strip()} retries)"
        if error.cause is not None and (
            error.cls_name in _WRAPPER_CLASSES or "Error occurred while executing" in error.message
        ):
            error = error.cause
        elif error.context is not None:
            error = error.context
        else:
            break
    text = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
    return _short(text) + retries


def _short(text: str) -> str:
    """``psycopg2.errors.AdminShutdown: ...`` -> ``AdminShutdown: ...`` (the class name says enough)."""
    head, sep, rest = text.partition(": ")
    return f"{head.rsplit('.', 1)[-1]}{sep}{rest}" if sep and " " not in head else text


def failure_reason(events: Iterable[dg.DagsterEvent]) -> str:
    """Why the run failed: its first step failure's root cause, else the run failure's message."""
    run_failure = None
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_failure_data.error:
            return root_cause(event.step_failure_data.error)
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            run_failure = event
    if run_failure is not None and run_failure.message:
        return run_failure.message.strip().splitlines()[0]
    return "the run failed (no error recorded)"
