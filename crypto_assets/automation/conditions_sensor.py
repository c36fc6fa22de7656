"""The sensor that evaluates the assets' automation conditions, running from the first start.

Dagster evaluates automation conditions only inside an automation condition sensor, and the
one it makes by itself (``default_automation_condition_sensor``) starts STOPPED: without this
sensor the rollups would never run on their own. Each tick, the daemon (not the code server)
evaluates every asset and check condition; a tick that asks for more than one partition of an
asset becomes one backfill, so the asset's backfill policy batches the partitions into few runs
(thousands of partitions after the first catch-up, not thousands of runs).
"""

from __future__ import annotations

import dagster as dg

from crypto_assets.settings import Settings

SENSOR_NAME = "automation_conditions"
# Rollup runs are seconds of SQL: the run queue starts them before queued catch-up runs (which
# fetch from the exchange for minutes), so the dashboard's recent days do not wait for history.
RUN_PRIORITY = {"dagster/priority": "1"}


def build_automation_sensor(settings: Settings) -> dg.AutomationConditionSensorDefinition:
    """Evaluate every automation condition each ``automation_interval_seconds``; on by default."""
    return dg.AutomationConditionSensorDefinition(
        SENSOR_NAME,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=settings.automation_interval_seconds,
        run_tags=RUN_PRIORITY,
        description=(
            "Runs the rollups (candles_1h, candles_1d, market_metrics_daily, price_downsampled) when the "
            "partitions they read change or they go missing, and the hourly freshness checks "
            f"(every {settings.automation_interval_seconds} s, config key 'automation_interval_seconds')."
        ),
    )
