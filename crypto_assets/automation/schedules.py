"""Daily schedules: finalise yesterday's partitions once the UTC day is over.

The runs cover every symbol (exact rectangles, ``run_shapes``); a symbol that fails does not
hold back the others (the assets fail only its partitions), and the catch-up sensor retries
failed partitions with backoff, so a failed day does not stay missing.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from crypto_assets.automation.run_shapes import exact_runs, run_request
from crypto_assets.settings import Settings


def build_daily_schedule(
    asset_key: dg.AssetKey, settings: Settings, max_partitions_per_run: int, minute: int = 10
) -> dg.ScheduleDefinition:
    """At 00:MM UTC, materialize yesterday for every symbol."""
    name = asset_key.to_user_string()

    @dg.schedule(
        name=f"{name}_daily",
        cron_schedule=f"{minute} 0 * * *",
        execution_timezone="UTC",
        target=[asset_key],
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Materializes yesterday's {name} partitions for every symbol, after the day closed.",
    )
    def daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        yesterday = (context.scheduled_execution_time - timedelta(days=1)).date()
        runs = exact_runs(
            [(yesterday, s) for s in settings.symbols], settings.symbols, max_partitions_per_run
        )
        return [
            run_request(asset_key, days).with_replaced_attrs(
                run_key=f"{name}:{yesterday.isoformat()}:{index}"
            )
            for index, days in enumerate(runs)
        ]

    return daily
