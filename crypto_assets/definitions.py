"""The one ``dg.Definitions`` of crypto-assets: assets, checks, schedules, sensors, resources.

Symbols and the first day come from the config file (``CRYPTO_CONFIG``); URLs from the
environment (``BINANCE_API_URL``, ``BINANCE_ARCHIVE_URL``, ``DATABASE_URL``).
"""

from __future__ import annotations

import dagster as dg

from crypto_assets.assets import candles_1m as candles_1m_module
from crypto_assets.assets.aggregates import build_aggregates
from crypto_assets.assets.candles_15m import MAX_PARTITIONS_PER_RUN, build_candles_15m
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.automation.conditions_sensor import build_automation_sensor
from crypto_assets.automation.price_samples_watch import build_price_samples_watch
from crypto_assets.automation.retention import build_storage_care
from crypto_assets.automation.schedules import build_daily_schedule
from crypto_assets.automation.sensors import build_catch_up_sensor
from crypto_assets.automation.stream_gaps import build_stream_gaps_sensor
from crypto_assets.resources import BinanceResource, WarehouseResource
from crypto_assets.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """Everything Dagster loads, for the given settings (tests pass their own)."""
    partitions = day_symbol_partitions(settings)
    candles_15m = build_candles_15m(partitions)
    candles_1m = candles_1m_module.build_candles_1m(partitions)
    aggregates = build_aggregates(partitions, settings)
    storage_care, storage_care_daily = build_storage_care(settings)
    return dg.Definitions(
        assets=[candles_15m, candles_1m, *aggregates.upstream, *aggregates.assets],
        asset_checks=[
            *aggregates.checks,
            candles_1m_module.build_freshness_check(candles_1m.key, settings),
        ],
        jobs=[storage_care],
        schedules=[
            build_daily_schedule(candles_15m.key, settings, MAX_PARTITIONS_PER_RUN),
            build_daily_schedule(
                candles_1m.key, settings, candles_1m_module.MAX_PARTITIONS_PER_RUN, minute=5
            ),
            storage_care_daily,
        ],
        sensors=[
            build_catch_up_sensor(candles_15m.key, partitions, settings, MAX_PARTITIONS_PER_RUN),
            # candles_1m: the stream and its gaps sensor keep today; this fills every older hole.
            build_catch_up_sensor(
                candles_1m.key,
                partitions,
                settings,
                candles_1m_module.MAX_PARTITIONS_PER_RUN,
                today_refresh=None,
            ),
            build_stream_gaps_sensor(
                candles_1m.key, settings, candles_1m_module.MAX_PARTITIONS_PER_RUN
            ),
            build_automation_sensor(settings),
            build_price_samples_watch(settings),
        ],
        executor=dg.in_process_executor,  # one step per run: a step subprocess would only add seconds
        resources={
            "binance": BinanceResource(
                base_url=settings.binance_api_url,
                archive_url=settings.binance_archive_url,
                rate_limit_share=settings.rate_limit_share,
                concurrency=settings.concurrency,
                retry_budget_s=settings.rest_retry_seconds,
            ),
            "warehouse": WarehouseResource(database_url=dg.EnvVar("DATABASE_URL")),
        },
    )


defs = build_definitions(load_settings())
