"""Daily schedules: finalise yesterday's partitions once the UTC day is over."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from crypto_assets.automation.catch_up import DayRange, run_request
from crypto_assets.settings import Settings


def build_daily_schedule(asset_key: dg.AssetKey, settings: Settings, minute: int = 10) -> dg.ScheduleDefinition:
    """At 00:MM UTC, materialize yesterday for every symbol in one run."""

    @dg.schedule(
        name=f"{asset_key.to_user_string()}_daily",
        cron_schedule=f"{minute} 0 * * *",
        execution_timezone="UTC",
        target=[asset_key],
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Materializes yesterday's {asset_key.to_user_string()} partitions for every symbol, after the day closed.",
    )
    def daily(context: dg.ScheduleEvaluationContext):
        yesterday = (context.scheduled_execution_time - timedelta(days=1)).date()
        request = run_request(asset_key, DayRange(yesterday, yesterday, tuple(settings.symbols)))
        return request.with_replaced_attrs(run_key=f"{asset_key.to_user_string()}:{yesterday.isoformat()}")

    return daily
