"""The rollups kept fresh by the running daemon alone, end to end.

The real ``dagster-daemon`` and webserver on a throwaway instance; only the automation sensor
and the price_samples watch stay on (the others are switched off as a user would in the UI), so
that nothing but the test's run brings candles. The collector's samples of a past day are written to ``price_samples``;
then that day's ``candles_1m`` arrives through a ``crypto backfill`` run, as in production.
From there the daemon must build the day's ``candles_1h``, ``candles_1d``,
``market_metrics_daily`` and ``price_downsampled`` partitions, and no others, within a few
ticks of its automation sensor; the rows must equal an independent computation from the
exchange's own klines and the inserted samples.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal as D

import httpx
import psycopg2

from crypto_assets.automation.conditions_sensor import SENSOR_NAME
from crypto_assets_tests.aggregates.loading import FIXTURES, fetch
from crypto_assets_tests.aggregates.test_rollups import assert_same, by_hour, rollup, stored
from crypto_assets_tests.dagster_processes import sensor_selector, wait_until

SYMBOLS = ("BTCUSDT", "ETHUSDT")
DAY = datetime.now(UTC).date() - timedelta(days=3)
DAY_MS = int(datetime.combine(DAY, time.min, tzinfo=UTC).timestamp() * 1000)
CONFIG = f"symbols: [{', '.join(SYMBOLS)}]\nhistory_start: {DAY - timedelta(days=1)}\nautomation_interval_seconds: 5\n"
ROLLUPS = ("candles_1h", "candles_1d", "market_metrics_daily", "price_downsampled")
PUSHES = (
    FIXTURES / "ws_kline_BTCUSDT_5m_2021-09-14.jsonl"
)  # real stream pushes: their prices become samples
TICKS_ALLOWED = (
    2  # automation ticks between the day's arrival and the tick that asks for its rollups
)

MATERIALIZATIONS = """
query ($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetMaterializations(limit: 100) { partition timestamp runId }
    }
  }
}"""

RUNS = """
{ runsOrError { ... on Runs { results { runId status endTime tags { key value } } } } }"""

TICKS = """
query ($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 200) { timestamp status requestedAssetKeys { path } } } }
  }
}"""


def materializations(graphql, asset: str) -> list[dict]:
    return graphql(MATERIALIZATIONS, key={"path": [asset]})["assetOrError"]["assetMaterializations"]


def finished_runs(graphql) -> dict[str, dict] | None:
    """Every run by id, with its status and tags, once none is queued or running."""
    runs = {r["runId"]: r for r in graphql(RUNS)["runsOrError"]["results"]}
    if any(r["status"] in {"QUEUED", "NOT_STARTED", "STARTING", "STARTED"} for r in runs.values()):
        return None
    return runs


def partitions_of(events: list[dict]) -> set[str]:
    return {e["partition"] for e in events}


def insert_samples(db_url: str) -> dict[str, list[tuple[int, D]]]:
    """The real pushes' prices at their time of day on DAY, one hour apart per symbol."""
    pushes = [json.loads(line) for line in PUSHES.read_text().splitlines()]
    samples = {
        symbol: [(DAY_MS + p["E"] % 86_400_000 + index * 3_600_000, D(p["k"]["c"])) for p in pushes]
        for index, symbol in enumerate(SYMBOLS)
    }
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO price_samples (symbol, sampled_at, price) VALUES (%s, to_timestamp(%s / 1000.0), %s)",
            [(symbol, at, price) for symbol, rows in samples.items() for at, price in rows],
        )
    conn.close()
    return samples


def exchange_minutes(simulator_url: str, symbol: str) -> list[list]:
    """The day's 1m klines exactly as the exchange (the simulator) answers them."""
    rows: list[list] = []
    with httpx.Client(base_url=simulator_url) as client:
        while len(rows) < 1440:
            start = DAY_MS + len(rows) * 60_000
            params: dict[str, str | int] = {
                "symbol": symbol,
                "interval": "1m",
                "startTime": start,
                "endTime": DAY_MS + 86_399_999,
                "limit": 1000,
            }
            rows += client.get("/api/v3/klines", params=params).raise_for_status().json()
    assert [r[0] for r in rows] == [DAY_MS + i * 60_000 for i in range(1440)]
    return rows


def assert_candles(db_url: str, simulator_url: str, symbol: str) -> list[list]:
    minutes = exchange_minutes(simulator_url, symbol)
    hours = {ms: rollup(rows, 60, "1m") for ms, rows in by_hour(minutes).items()}
    got_hours = stored(db_url, "candles_1h", symbol)
    assert sorted(got_hours) == sorted(hours) and len(hours) == 24
    for ms, expected in hours.items():
        assert_same(got_hours[ms], expected)
    [(open_ms, got_day)] = stored(db_url, "candles_1d", symbol).items()
    assert open_ms == DAY_MS
    assert_same(got_day, rollup(minutes, 1440, "1m"))
    return minutes


def assert_metrics(db_url: str, symbol: str, minutes: list[list]) -> None:
    [got] = fetch(
        db_url,
        "SELECT day, open, close, previous_close, simple_return, realized_volatility, "
        "range_pct, volume, minutes_observed"
        " FROM market_metrics_daily WHERE symbol = %s",
        (symbol,),
    )
    closes = [D(r[4]) for r in minutes]
    volatility = math.sqrt(
        sum(math.log(float(b) / float(a)) ** 2 for a, b in itertools.pairwise(closes))
    )
    high, low, open_ = (
        max(D(r[2]) for r in minutes),
        min(D(r[3]) for r in minutes),
        D(minutes[0][1]),
    )
    assert got[:5] == (
        DAY,
        open_,
        closes[-1],
        None,
        None,
    )  # the day before has no candles: no return
    assert math.isclose(got[5], volatility, rel_tol=1e-9)
    assert math.isclose(got[6], float((high - low) / open_ * 100), rel_tol=1e-12)
    assert got[7:] == (sum(D(r[5]) for r in minutes), 1440)


def assert_downsampled(db_url: str, symbol: str, samples: list[tuple[int, D]]) -> None:
    got = fetch(
        db_url,
        "SELECT extract(epoch FROM bucket_width)::int, (extract(epoch FROM bucket_start) * 1000)::bigint, avg_price,"
        " median_price, min_price, max_price, sample_count FROM price_downsampled WHERE symbol = %s ORDER BY 1, 2",
        (symbol,),
    )
    expected = []
    for width_ms in (60_000, 300_000):  # the default downsample_windows, 1m and 5m
        buckets = defaultdict(list)
        for at, price in samples:
            buckets[at // width_ms * width_ms].append(price)
        expected += [
            (width_ms // 1000, start, statistics.median(p), min(p), max(p), len(p), sum(p) / len(p))
            for start, p in sorted(buckets.items())
        ]
    assert [(*row[:2], *row[3:]) for row in got] == [row[:6] for row in expected]
    assert all(abs(row[2] - want[6]) < D("1e-10") for row, want in zip(got, expected, strict=True))


def assert_asked_within(
    ticks: list[dict],
    assets: set[str],
    not_before: float,
    ready: float | None = None,
    allowed: int = TICKS_ALLOWED,
) -> None:
    """The automation sensor asked for none of ``assets`` in a tick up to ``not_before``, and
    for all of them in one of its first ``allowed`` ticks after ``ready`` (default: the same)."""
    ordered = sorted(ticks, key=lambda t: t["timestamp"])
    asked = [{k["path"][0] for k in t["requestedAssetKeys"]} for t in ordered]
    seen = [(t["timestamp"], sorted(a)) for t, a in zip(ordered, asked, strict=True)]
    early = [a for t, a in zip(ordered, asked, strict=True) if t["timestamp"] <= not_before]
    assert not any(assets & a for a in early), seen
    after = [
        a for t, a in zip(ordered, asked, strict=True) if t["timestamp"] > (ready or not_before)
    ]
    first = [i for i, a in enumerate(after) if assets <= a]
    assert first and first[0] < allowed, seen


def test_a_new_candles_1m_day_is_rolled_up_by_the_daemon_alone(
    dagster_platform, db_url, simulator_url
):
    platform = dagster_platform(CONFIG)
    graphql = platform.start_webserver()
    platform.keep_only_sensors(
        SENSOR_NAME, "price_samples_watch"
    )  # no catch-up: only the test brings candles
    platform.start_daemon()

    samples = insert_samples(db_url)  # what the collector wrote that day
    backfill = platform.crypto("backfill", "candles_1m", "--start", str(DAY), "--end", str(DAY))
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    wanted = {f"{DAY}|{symbol}" for symbol in SYMBOLS}
    assert partitions_of(materializations(graphql, "candles_1m")) == wanted
    arrived = max(int(e["timestamp"]) for e in materializations(graphql, "candles_1m")) / 1000

    wait_until(
        lambda: all(wanted <= partitions_of(materializations(graphql, a)) for a in ROLLUPS),
        150,
        "the daemon materializing the day's rollups",
        platform.processes,
    )
    runs = wait_until(
        lambda: finished_runs(graphql), 60, "the daemon's runs finishing", platform.processes
    )
    assert {r["status"] for r in runs.values()} == {"SUCCESS"}, platform.diagnostics()
    for asset in ROLLUPS:
        events = materializations(graphql, asset)
        assert partitions_of(events) == wanted, (
            asset
        )  # that day only: the day before has nothing to roll up
        tags = [{t["key"]: t["value"] for t in runs[e["runId"]]["tags"]} for e in events]
        assert {(t.get("dagster/sensor_name"), t.get("dagster/priority")) for t in tags} == {
            (SENSOR_NAME, "1")
        }, asset
    assert {
        e["partition"] for e in materializations(graphql, "price_samples") if not e["runId"]
    } == wanted

    ticks = graphql(TICKS, selector=sensor_selector(SENSOR_NAME))["sensorOrError"]["sensorState"][
        "ticks"
    ]
    assert_asked_within(ticks, {"candles_1h", "candles_1d"}, arrived)
    # the metrics' rows are the day candle's: with no day candle the day before, they are asked
    # for once the day's candle exists, not with it: after the run that built it ended and the
    # backfill daemon marked its backfill done (up to two ticks more)
    day_candles = materializations(graphql, "candles_1d")
    assert_asked_within(
        ticks,
        {"market_metrics_daily"},
        not_before=max(int(e["timestamp"]) for e in day_candles) / 1000,
        ready=max(runs[e["runId"]]["endTime"] for e in day_candles),
        allowed=TICKS_ALLOWED + 2,
    )

    for symbol in SYMBOLS:
        minutes = assert_candles(db_url, simulator_url, symbol)
        assert_metrics(db_url, symbol, minutes)
        assert_downsampled(db_url, symbol, samples[symbol])
