"""Catch-up sensors: request runs for every day x symbol partition missing since the last one.

The cursor records when each tick ran and what it asked for; while a catch-up run of the asset
is still queued or running, the sensor waits instead of asking twice (``run_key``s are kept
forever by Dagster, so they are not used to deduplicate).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Sequence

import dagster as dg

from crypto_assets.automation.catch_up import CATCH_UP_TAG, days_to_run, group_ranges, run_in_flight, run_request
from crypto_assets.settings import Settings



def build_catch_up_sensor(
    asset_key: dg.AssetKey,
    settings: Settings,
    max_partitions_per_run: int,
    *,
    today_refresh: timedelta = timedelta(minutes=15),
    minimum_interval_seconds: int = 60,
    now=lambda: datetime.now(timezone.utc),
) -> dg.SensorDefinition:
    """A sensor that keeps ``asset_key`` caught up to today for every configured symbol."""
    name = f"{asset_key.to_user_string()}_catch_up"
    symbols: Sequence[str] = settings.symbols

    @dg.sensor(
        name=name,
        asset_selection=[asset_key],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Requests runs of {asset_key.to_user_string()} for every partition missing since the last "
            f"materialized one, and refreshes today's partition every {int(today_refresh.total_seconds() // 60)} minutes."
        ),
    )
    def catch_up(context: dg.SensorEvaluationContext):
        tick = now()
        in_flight = run_in_flight(context.instance, name)
        if in_flight:
            return dg.SkipReason(f"a catch-up run ({in_flight[:8]}) is still in flight")
        wanted = days_to_run(context.instance, asset_key, symbols, settings.history_start, tick, today_refresh)
        ranges = group_ranges(wanted, symbols, max_partitions_per_run)
        context.update_cursor(
            json.dumps(
                {
                    "last_tick": tick.isoformat(),
                    "requested": {s: [d.isoformat() for d in days] for s, days in sorted(wanted.items())},
                }
            )
        )
        if not ranges:
            return dg.SkipReason("every partition is up to date")
        return [run_request(asset_key, r, {CATCH_UP_TAG: name}) for r in ranges]

    return catch_up
