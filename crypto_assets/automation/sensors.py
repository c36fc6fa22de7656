"""Catch-up sensors: keep an asset's every day x symbol partition materialized, holes included.

Each tick reads Dagster's partition status for every partition up to today (``catch_up``),
requests exact runs for the missing ones and the refreshes, retries failed ones with backoff
(retry runs carry ``crypto/attempt``), and stores the retry state in the warehouse
(``partition_retries``, shown by ``crypto audit``) and a summary in its cursor. While one of its
runs is queued or running it waits instead of asking twice (``run_key``s are kept forever by
Dagster, so they are not used to deduplicate).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg

from crypto_assets.automation.catch_up import (
    ATTEMPT_TAG,
    CATCH_UP_TAG,
    all_wanted,
    plan_catch_up,
    run_in_flight,
)
from crypto_assets.automation.run_shapes import exact_runs, run_request
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets.warehouse.catch_up_state import floors, retries, save_retries

# At most this many runs per tick (each up to the asset's partitions per run): scattered holes
# can mean thousands of one-partition runs; the rest wait for the next ticks.
MAX_RUNS_PER_TICK = 50


def build_catch_up_sensor(
    asset_key: dg.AssetKey,
    partitions_def: dg.PartitionsDefinition,
    settings: Settings,
    max_partitions_per_run: int,
    *,
    today_refresh: timedelta | None = timedelta(minutes=15),
    minimum_interval_seconds: int = 60,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dg.SensorDefinition:
    """A sensor that keeps ``asset_key`` complete from ``history_start`` to today for every symbol."""
    name = f"{asset_key.to_user_string()}_catch_up"
    table = asset_key.to_user_string()
    symbols = list(settings.symbols)

    @dg.sensor(
        name=name,
        asset_selection=[asset_key],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Requests runs of {table} for every missing partition since history_start and retries failed ones "
            "(after 1 min, 10 min, 1 h, then daily)"
            + (
                f"; refreshes today's every {int(today_refresh.total_seconds() // 60)} minutes."
                if today_refresh
                else "."
            )
        ),
    )
    def catch_up(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SensorResult | dg.SkipReason:
        tick = now()
        in_flight = run_in_flight(context.instance, name)
        if in_flight:
            return dg.SkipReason(f"a catch-up run ({in_flight[:8]}) is still in flight")
        with warehouse.transaction() as conn, conn.cursor() as cur:
            plan = plan_catch_up(
                context.instance,
                asset_key,
                partitions_def,
                symbols,
                settings.history_start,
                now=tick,
                today_refresh=today_refresh,
                floors=floors(cur, table),
                retry_state=retries(cur, table),
            )
            save_retries(cur, table, plan.retries_changed, plan.retries_resolved)
        tags = {CATCH_UP_TAG: name}
        requests = [
            run_request(asset_key, r, tags)
            for r in exact_runs(all_wanted(plan), symbols, max_partitions_per_run)
        ]
        for attempt, partitions in sorted(plan.retry_due.items()):
            requests += [
                run_request(asset_key, r, {**tags, ATTEMPT_TAG: str(attempt)})
                for r in exact_runs(partitions, symbols, max_partitions_per_run)
            ]
        deferred = len(requests[MAX_RUNS_PER_TICK:])
        requests = requests[:MAX_RUNS_PER_TICK]
        cursor = json.dumps(
            {
                "last_tick": tick.isoformat(),
                **plan.summary,
                "runs_requested": len(requests),
                "runs_deferred": deferred,
            }
        )
        if not requests:
            waiting = (
                f"; {len(plan.retry_waiting)} failed partition(s) wait for their retry"
                if plan.retry_waiting
                else ""
            )
            return dg.SensorResult(
                skip_reason=f"every partition is up to date{waiting}", cursor=cursor
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return catch_up
