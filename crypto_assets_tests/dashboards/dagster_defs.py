"""Dagster definitions a real webserver serves to the Data health tests: one partitioned asset
with a passing and a failing (warning) check, and one asset that never ran."""

from __future__ import annotations

import dagster as dg

PARTITIONS = dg.StaticPartitionsDefinition(
    ["2024-01-01|BTCUSDT", "2024-01-02|BTCUSDT", "2024-01-03|BTCUSDT"]
)


@dg.asset(
    partitions_def=PARTITIONS,
    check_specs=[
        dg.AssetCheckSpec("ohlc_invariants", asset="candles_1m"),
        dg.AssetCheckSpec("gaps_reported", asset="candles_1m"),
    ],
)
def candles_1m() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(check_name="ohlc_invariants", passed=True),
            dg.AssetCheckResult(
                check_name="gaps_reported",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description="5 minutes missing",
            ),
        ]
    )


@dg.asset
def market_metrics_daily() -> None:
    """Never materialized in the tests."""


defs = dg.Definitions(assets=[candles_1m, market_metrics_daily])
