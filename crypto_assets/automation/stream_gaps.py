"""The ``candles_1m`` sensor: find recent minutes the collector did not deliver and repair them from REST.

Every tick it counts, per symbol, today's and yesterday's closed rows in ``candles_1m`` against
the minutes that should be there: every minute that ended at least ``grace`` ago, from the day's
start or, when the partition was materialized, from the exchange time that run read REST at
(``rest_now_ms`` in its metadata: earlier minutes are REST's word, and what REST lacks there is
an exchange outage, not something to ask for again). Partitions with a shortfall get a run
(collector downtime, reconnects, a database outage longer than the collector's buffer); days
are grouped into as few runs as possible. While one of its runs is queued or running it only
waits. Each tick also reports the ``fresh_while_streaming`` check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.candles_1m import REST_NOW_KEY
from crypto_assets.assets.candles_1m_checks import freshness_evaluation
from crypto_assets.assets.partitions import day_start, partition_key
from crypto_assets.automation.catch_up import CATCH_UP_TAG, latest_materializations, run_in_flight
from crypto_assets.automation.run_shapes import exact_runs, run_request
from crypto_assets.binance.wire import MINUTE_MS, datetime_to_ms, ms_to_datetime
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings

SENSOR_NAME = "candles_1m_stream_gaps"
GRACE = timedelta(seconds=30)
_COUNT_CLOSED = (
    "SELECT w.symbol, w.day, w.expected - count(c.open_time) FROM"
    " unnest(%s::text[], %s::date[], %s::timestamptz[], %s::timestamptz[], %s::int[]) AS "
    "w(symbol, day, lo, hi, expected)"
    " LEFT JOIN candles_1m c ON c.symbol = w.symbol AND c.open_time >= w.lo AND c.open_time < w.hi AND c.is_closed"
    " GROUP BY w.symbol, w.day, w.expected HAVING w.expected > count(c.open_time)"
)

Window = tuple[str, date, int, int]  # symbol, day, first open time (ms), end (ms, exclusive)


def due_windows(
    symbols: Sequence[str], history_start: date, now: datetime, grace: timedelta = GRACE
) -> list[Window]:
    """Today's and yesterday's minutes per symbol that should be closed in the table by ``now``."""
    end = (
        datetime_to_ms(now - grace) // MINUTE_MS * MINUTE_MS
    )  # open time of the first minute not yet due
    windows = []
    for day in (now.date() - timedelta(days=1), now.date()):
        lo = datetime_to_ms(day_start(day))
        hi = min(end, lo + 86_400_000)
        if day >= history_start and hi > lo:
            windows += [(symbol, day, lo, hi) for symbol in symbols]
    return windows


def shortfalls(cur: cursor, windows: Sequence[Window]) -> dict[tuple[str, date], int]:
    """Minutes missing (or not closed) per (symbol, day) window; only windows that miss some."""
    if not windows:
        return {}
    columns = list(
        zip(
            *[
                (s, d, ms_to_datetime(lo), ms_to_datetime(hi), (hi - lo) // MINUTE_MS)
                for s, d, lo, hi in windows
            ],
            strict=True,
        )
    )
    cur.execute(_COUNT_CLOSED, [list(column) for column in columns])
    return {(symbol, day): missing for symbol, day, missing in cur.fetchall()}


def rest_read_at(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: Sequence[tuple[str, date]]
) -> dict[tuple[str, date], int]:
    """For each (symbol, day) partition materialized, the exchange time its latest run read REST at."""
    keys = {str(partition_key(day, symbol)): (symbol, day) for symbol, day in partitions}
    found = {}
    for key, record in latest_materializations(instance, asset_key, keys).items():
        materialization = record.asset_materialization
        value = materialization.metadata.get(REST_NOW_KEY) if materialization else None
        if isinstance(value, dg.IntMetadataValue) and value.value is not None:
            found[keys[key]] = value.value
    return found


def build_stream_gaps_sensor(
    asset_key: dg.AssetKey,
    settings: Settings,
    max_partitions_per_run: int,
    *,
    grace: timedelta = GRACE,
    minimum_interval_seconds: int = 60,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dg.SensorDefinition:
    """The sensor that keeps recent ``candles_1m`` partitions complete (see the module docstring)."""
    symbols = settings.symbols

    @dg.sensor(
        name=SENSOR_NAME,
        asset_selection=[asset_key],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Requests candles_1m runs for today's and yesterday's partitions missing minutes the stream "
            "collector did not deliver, and reports the fresh_while_streaming check."
        ),
    )
    def stream_gaps(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SensorResult:
        tick = now()
        with warehouse.transaction() as conn, conn.cursor() as cur:
            fresh = freshness_evaluation(asset_key, cur, symbols, tick)
            in_flight = run_in_flight(context.instance, SENSOR_NAME)
            if in_flight:
                return dg.SensorResult(
                    skip_reason=f"a repair run ({in_flight[:8]}) is still in flight",
                    asset_events=[fresh],
                )
            windows = due_windows(symbols, settings.history_start, tick, grace)
            missing = shortfalls(cur, windows)
            read_at = rest_read_at(context.instance, asset_key, list(missing))
            if read_at:  # count again from where each run left off
                bounds = {(s, d): (lo, hi) for s, d, lo, hi in windows}
                rewindowed = [
                    (
                        s,
                        d,
                        max(bounds[s, d][0], read_at.get((s, d), 0) // MINUTE_MS * MINUTE_MS),
                        bounds[s, d][1],
                    )
                    for s, d in missing
                ]
                missing = shortfalls(cur, [w for w in rewindowed if w[3] > w[2]])
        cursor = json.dumps(
            {
                "last_tick": tick.isoformat(),
                "missing": {f"{s}|{d}": n for (s, d), n in sorted(missing.items())},
            }
        )
        if not missing:
            return dg.SensorResult(
                skip_reason="no recent minute is missing", asset_events=[fresh], cursor=cursor
            )
        runs = exact_runs(
            [(day, symbol) for symbol, day in missing], symbols, max_partitions_per_run
        )
        requests = [run_request(asset_key, r, {CATCH_UP_TAG: SENSOR_NAME}) for r in runs]
        return dg.SensorResult(run_requests=requests, asset_events=[fresh], cursor=cursor)

    return stream_gaps
