"""The ``price_samples`` watch: tells Dagster when the collector's raw prices changed.

The stream collector writes ``price_samples`` outside Dagster, so no run ever says that a day's
samples changed, and ``price_downsampled`` (which follows its upstream, like every rollup) would
never run. Each tick this sensor counts every (symbol, day)'s samples from the day of the newest
sample it saw before (the collector appends in time order, so older days are settled), and
reports a runless materialization of each ``price_samples`` partition whose count or newest
sample moved: at once when the day is over or the partition was never reported, otherwise at
most every ``refresh`` (15 minutes). So today's ``price_downsampled`` follows the live samples
every 15 minutes, and a finished day is rebuilt once its last samples are in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.partitions import day_start, partition_key
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings

SENSOR_NAME = "price_samples_watch"
ASSET_KEY = dg.AssetKey("price_samples")
REFRESH = timedelta(minutes=15)
_COUNT = (
    "SELECT symbol, (sampled_at AT TIME ZONE 'UTC')::date, count(*), max(sampled_at) FROM price_samples"
    " WHERE symbol = ANY(%s) AND sampled_at >= %s GROUP BY 1, 2"
)


@dataclass(frozen=True)
class DaySamples:
    """What ``price_samples`` holds for one partition."""

    symbol: str
    day: date
    rows: int
    last: datetime

    @property
    def key(self) -> str:
        return str(partition_key(self.day, self.symbol))

    @property
    def state(self) -> list[int | str]:
        return [self.rows, self.last.isoformat()]


def count_samples(
    cur: cursor, symbols: Sequence[str], since: date, today: date
) -> list[DaySamples]:
    """Rows and newest sample per (symbol, day) from ``since`` through ``today``."""
    cur.execute(_COUNT, (list(symbols), day_start(since)))
    return [DaySamples(s, d, n, last) for s, d, n, last in cur.fetchall() if d <= today]


def due_reports(
    found: Sequence[DaySamples],
    seen: dict[str, list[Any]],
    now: datetime,
    refresh: timedelta = REFRESH,
) -> list[DaySamples]:
    """The partitions to report now: changed since their last report, and finished, new or due."""
    due = []
    for samples in found:
        previous = seen.get(samples.key)  # [rows, newest sample, reported at] as last reported
        if previous is not None and previous[:2] == samples.state:
            continue
        if (
            previous is None
            or samples.day < now.date()
            or now - datetime.fromisoformat(previous[2]) >= refresh
        ):
            due.append(samples)
    return due


def next_cursor(
    found: Sequence[DaySamples],
    reported: Sequence[DaySamples],
    seen: dict[str, list[Any]],
    since: date,
    now: datetime,
) -> dict[str, Any]:
    """Remember what was reported; scan from the newest sample's day next time.

    Only today's changes are ever held back, and today then holds the newest sample, so nothing
    held back falls before the next scan's first day.
    """
    seen = {**seen, **{s.key: [*s.state, now.isoformat()] for s in reported}}
    if found:
        since = max(s.last for s in found).date()
    kept = {
        key: state for key, state in seen.items() if date.fromisoformat(key.split("|")[0]) >= since
    }
    return {"since": since.isoformat(), "seen": kept}


def build_price_samples_watch(
    settings: Settings,
    *,
    refresh: timedelta = REFRESH,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dg.SensorDefinition:
    """The sensor described in the module docstring, ticking every ``automation_interval_seconds``."""
    symbols = settings.symbols

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=settings.automation_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Reports price_samples partitions whose rows the stream collector changed (finished days at once, "
            f"today at most every {int(refresh.total_seconds() // 60)} minutes), so price_downsampled follows them."
        ),
    )
    def watch(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        tick = now()
        cursor = json.loads(context.cursor) if context.cursor else {}
        since = date.fromisoformat(cursor["since"]) if "since" in cursor else settings.history_start
        seen = cursor.get("seen", {})
        with warehouse.transaction() as conn, conn.cursor() as cur:
            found = count_samples(cur, symbols, since, tick.date())
        reported = due_reports(found, seen, tick, refresh)
        events = [
            dg.AssetMaterialization(
                ASSET_KEY,
                partition=s.key,
                description="price_samples rows the stream collector wrote, as counted by the price_samples watch",
                metadata={"rows": s.rows, "last_sampled_at": dg.MetadataValue.timestamp(s.last)},
            )
            for s in reported
        ]
        new_cursor = json.dumps(next_cursor(found, reported, seen, since, tick))
        if not events:
            return dg.SensorResult(
                skip_reason="no price_samples partition changed (or is due)", cursor=new_cursor
            )
        return dg.SensorResult(asset_events=events, cursor=new_cursor)

    return watch
