"""The hourly freshness checks: a symbol whose newest row is too old (or absent) is named."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2

from crypto_assets.assets.aggregate_checks import FRESH
from crypto_assets.definitions import build_definitions
from crypto_assets.resources import WarehouseResource
from crypto_assets_tests.aggregates.loading import SETTINGS
from crypto_assets_tests.metadata import json_entry


def test_stale_and_absent_symbols_fail_the_check(db_url):
    now = datetime.now(UTC)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        for symbol, age in (("BTCUSDT", timedelta(minutes=10)), ("ETHUSDT", timedelta(days=1))):
            cur.execute(
                "INSERT INTO price_downsampled VALUES (%s, %s, interval '1 minute', 1, 1, 1, 1, 1)",
                (symbol, now - age),
            )
    conn.close()
    defs = build_definitions(SETTINGS)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_check_selection={
            dg.AssetCheckKey(dg.AssetKey("price_downsampled"), FRESH),
            dg.AssetCheckKey(dg.AssetKey("candles_1h"), FRESH),
        },
        asset_selection=set(),
    )
    result = job.execute_in_process(resources={"warehouse": WarehouseResource(database_url=db_url)})
    checks = {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}
    assert not checks["price_downsampled"].passed
    assert [
        row["symbol"] for row in json_entry(checks["price_downsampled"].metadata, "examples")
    ] == ["ETHUSDT"]
    assert [row["newest"] for row in json_entry(checks["candles_1h"].metadata, "examples")] == [
        None,
        None,
    ]  # empty table
