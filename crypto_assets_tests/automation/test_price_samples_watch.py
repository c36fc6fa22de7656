"""The price_samples watch on a real price_samples table: what it reports, when, and its cursor."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from crypto_assets.automation.price_samples_watch import build_price_samples_watch
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets_tests.metadata import int_entry

SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2025, 3, 9))
YESTERDAY = datetime(2025, 3, 10, tzinfo=UTC)
TODAY = YESTERDAY + timedelta(days=1)
NOW = TODAY + timedelta(hours=9)


def insert_samples(db_url: str, symbol: str, times: list[datetime]) -> None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO price_samples (symbol, sampled_at, price) VALUES (%s, %s, 1.5)",
            [(symbol, t) for t in times],
        )
    conn.close()


def tick(db_url: str, now: datetime, cursor: str | None = None):
    sensor = build_price_samples_watch(SETTINGS, now=lambda: now)
    context = dg.build_sensor_context(
        cursor=cursor, resources={"warehouse": WarehouseResource(database_url=db_url)}
    )
    return sensor.evaluate_tick(context)


def reported(result) -> dict[str, int]:
    """Partition -> rows, for each materialization the tick reports."""
    return {
        str(e.partition): int_entry(e.metadata, "rows")
        for e in result.asset_events
        if isinstance(e, dg.AssetMaterialization)
    }


def seconds(day: datetime, *offsets: int) -> list[datetime]:
    return [day + timedelta(seconds=s) for s in offsets]


def test_first_tick_reports_every_partition_that_has_samples(db_url):
    insert_samples(db_url, "BTCUSDT", seconds(YESTERDAY, 0, 2, 86_398))
    insert_samples(db_url, "ETHUSDT", seconds(TODAY, 10))
    insert_samples(db_url, "SOLUSDT", seconds(TODAY, 10))  # not a configured symbol
    insert_samples(
        db_url, "BTCUSDT", seconds(YESTERDAY - timedelta(days=2), 5)
    )  # before history_start
    result = tick(db_url, NOW)
    assert reported(result) == {"2025-03-10|BTCUSDT": 3, "2025-03-11|ETHUSDT": 1}
    assert {e.asset_key for e in result.asset_events} == {dg.AssetKey("price_samples")}
    assert json.loads(result.cursor)["since"] == "2025-03-11"  # the newest sample's day


def test_nothing_changed_reports_nothing(db_url):
    insert_samples(db_url, "BTCUSDT", seconds(TODAY, 0, 2))
    first = tick(db_url, NOW)
    second = tick(db_url, NOW + timedelta(hours=1), first.cursor)
    assert reported(second) == {}
    assert second.skip_message == "no price_samples partition changed (or is due)"


def test_today_is_reported_at_most_every_15_minutes(db_url):
    insert_samples(db_url, "BTCUSDT", seconds(TODAY, 0))
    first = tick(db_url, NOW)
    insert_samples(db_url, "BTCUSDT", seconds(TODAY, 60))
    held = tick(db_url, NOW + timedelta(minutes=14), first.cursor)
    assert reported(held) == {}
    due = tick(db_url, NOW + timedelta(minutes=15), held.cursor)
    assert reported(due) == {"2025-03-11|BTCUSDT": 2}


def test_a_finished_day_is_reported_as_soon_as_it_changes(db_url):
    insert_samples(db_url, "BTCUSDT", seconds(YESTERDAY, 86_000))
    first = tick(db_url, TODAY - timedelta(minutes=1))
    insert_samples(
        db_url, "BTCUSDT", seconds(YESTERDAY, 86_398)
    )  # the day's last samples, written after it ended
    insert_samples(db_url, "BTCUSDT", seconds(TODAY, 1))
    after_midnight = tick(db_url, TODAY + timedelta(seconds=30), first.cursor)
    assert reported(after_midnight) == {"2025-03-10|BTCUSDT": 2, "2025-03-11|BTCUSDT": 1}


def test_a_change_held_back_at_the_end_of_a_day_is_reported_after_midnight(db_url):
    insert_samples(db_url, "BTCUSDT", seconds(YESTERDAY, 85_990))
    first = tick(db_url, YESTERDAY + timedelta(seconds=86_000))
    insert_samples(db_url, "BTCUSDT", seconds(YESTERDAY, 86_390))
    held = tick(
        db_url, YESTERDAY + timedelta(seconds=86_395), first.cursor
    )  # its day not over, 15 min not passed
    assert reported(held) == {}
    later = tick(db_url, TODAY + timedelta(seconds=5), held.cursor)
    assert reported(later) == {"2025-03-10|BTCUSDT": 2}
    assert json.loads(later.cursor)["since"] == "2025-03-10"  # no sample today yet


@pytest.mark.parametrize("interval", [5, 45])
def test_ticks_as_often_as_the_automation_interval(interval):
    settings = Settings(symbols=("BTCUSDT",), automation_interval_seconds=interval)
    assert build_price_samples_watch(settings).minimum_interval_seconds == interval
