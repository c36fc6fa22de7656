"""/v1/health: ok with fresh, complete data and a streaming collector; degraded (still 200) when
data is stale or a candle is missing, naming it; down (503) when the warehouse cannot be read."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import psycopg2
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from crypto_assets.assets.aggregates import build_aggregates
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.settings import Settings
from crypto_assets_tests.api.conftest import SYMBOLS, api_config, free_port, readonly, serving
from crypto_assets_tests.api.expected import expected_state, iso
from crypto_assets_tests.assets.helpers import materialize_range, resources
from crypto_assets_tests.stream.helpers import CollectorThread, query, wait_until

TABLES = [
    "candles_1m",
    "price_samples",
    "candles_15m",
    "candles_1h",
    "candles_1d",
    "price_downsampled",
    "market_metrics_daily",
]


def test_history_long_past_is_degraded_and_every_table_is_described(api_market, client):
    response = client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["window"] == "7d"
    assert [t["table"] for t in body["tables"]] == TABLES
    for table in body["tables"]:
        time_column = {
            "price_samples": "sampled_at",
            "price_downsampled": "bucket_start",
            "market_metrics_daily": "(day::timestamp AT TIME ZONE 'UTC')",
        }.get(table["table"], "open_time")
        ((rows, last),) = query(
            api_market.url, f"SELECT count(*), max({time_column}) FROM {table['table']}"
        )
        assert (table["rows"], table["rows_exact"], table["last"], table["fresh"]) == (
            rows,
            True,
            iso(last),
            False,
        )
        assert f"{table['table']}: newest row is " in " ".join(body["problems"])
        assert {s["symbol"] for s in table["series"]} == set(SYMBOLS)
    collector = body[
        "collector"
    ]  # stopped at the end of the fixture: healthy only for its first 15 s
    assert collector["state"] == expected_state(collector["lag_s"])
    assert (collector["state"] == "healthy") != any(
        p.startswith("stream collector is ") for p in body["problems"]
    )


def fill_today(db_url: str, simulator) -> None:
    """Yesterday and today from the assets, against the simulator on the wall clock."""
    today = datetime.now(UTC).date()
    first, last = (today - timedelta(days=1)).isoformat(), today.isoformat()
    settings = Settings(symbols=SYMBOLS, history_start=today - timedelta(days=1))
    instance = dg.DagsterInstance.ephemeral()
    for asset in ("candles_1m", "candles_15m"):
        result = materialize_range(
            asset,
            settings,
            simulator.url,
            db_url,
            f"{first}|{SYMBOLS[0]}",
            f"{last}|{SYMBOLS[-1]}",
            instance,
        )
        assert result.success
    aggregates = build_aggregates(day_symbol_partitions(settings), settings)
    assert dg.materialize(
        [*aggregates.assets, *aggregates.upstream],
        selection=[a.key for a in aggregates.assets],
        resources=resources(simulator.url, db_url),
        instance=instance,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: f"{first}|{SYMBOLS[0]}",
            ASSET_PARTITION_RANGE_END_TAG: f"{last}|{SYMBOLS[-1]}",
        },
    ).success


def test_fresh_complete_data_is_ok_and_a_missing_minute_degrades_it(simulator, db_url):
    collector = CollectorThread.start(
        simulator, db_url, symbols=SYMBOLS
    )  # first, so no minute falls between
    try:
        wait_until(
            lambda: query(
                db_url, "SELECT count(DISTINCT symbol) = %s FROM price_samples", (len(SYMBOLS),)
            )[0][0],
            "the collector's first samples",
        )
        fill_today(db_url, simulator)
        with serving(api_config(readonly(db_url))) as base:
            ok = httpx.get(f"{base}/v1/health", params={"window": "1d"}, timeout=30)
            assert (ok.status_code, ok.json()["status"], ok.json()["problems"]) == (200, "ok", [])
            assert ok.json()["collector"]["state"] == "healthy"
            assert all(t["fresh"] and not t["missing"] for t in ok.json()["tables"])
            with contextlib.closing(psycopg2.connect(db_url)) as conn, conn.cursor() as cur:
                cur.execute(
                    "DELETE FROM candles_1m WHERE symbol = 'ETHUSDT' AND open_time ="
                    " date_trunc('minute', now() - interval '3 hours')"
                )
                assert cur.rowcount == 1
                conn.commit()
            degraded = httpx.get(f"{base}/v1/health", params={"window": "1d"}, timeout=30)
    finally:
        collector.stop()
    body = degraded.json()
    assert (degraded.status_code, body["status"]) == (200, "degraded")
    assert body["problems"] == ["candles_1m: 1 missing in the last 1d (ETHUSDT: 1)"]
    (minutes,) = [t for t in body["tables"] if t["table"] == "candles_1m"]
    assert {s["symbol"]: s["missing"] for s in minutes["series"]} == {"BTCUSDT": 0, "ETHUSDT": 1}


def test_an_unreachable_warehouse_is_down_with_503():
    url = f"postgresql://crypto_api:s3cret@127.0.0.1:{free_port()}/crypto"
    with serving(api_config(url)) as base:
        response = httpx.get(f"{base}/v1/health", timeout=30)
        candles = httpx.get(f"{base}/v1/candles/BTCUSDT", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert (
        body["status"] == "down"
        and "is not reachable" in body["detail"]
        and "s3cret" not in response.text
    )
    assert candles.status_code == 503 and "is not reachable" in candles.json()["detail"]
