"""The Data health page: per table, its size, time span and freshness, and per series (symbol,
or symbol and window width) the candles missing from a recent window.

Sizes come from the planner's statistics (TimescaleDB's ``approximate_row_count`` on
hypertables) once a table is large, so the page never counts millions of rows; small tables
are counted exactly. Series are found with a skip scan and measured with index probes and
an index range count over the window only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from crypto_assets.warehouse.db import scalar
from crypto_assets.warehouse.queries.buckets import describe
from crypto_assets.warehouse.queries.catalog import skip_scan
from crypto_assets.warehouse.queries.frames import ColumnTypes
from crypto_assets.warehouse.schema import has_timescaledb

EXACT_COUNT_BELOW = 200_000
"""Tables estimated under this many rows are counted exactly."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TableSpec:
    """How to read one table's health. ``step`` is its cadence (None: irregular samples), or
    the ``bucket_width`` key column's value when ``step_in_key``; ``fresh_within`` how long ago
    its last row may start before the table counts as stale; ``fill`` says what fills it."""

    table: str
    time_column: str
    keys: tuple[str, ...]
    step: timedelta | None
    fresh_within: timedelta
    fill: str
    step_in_key: bool = False
    date_typed: bool = False


TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "candles_1m",
        "open_time",
        ("symbol",),
        timedelta(minutes=1),
        timedelta(minutes=10),
        "crypto stream (live), crypto backfill candles_1m",
    ),
    TableSpec(
        "price_samples", "sampled_at", ("symbol",), None, timedelta(minutes=5), "crypto stream"
    ),
    TableSpec(
        "candles_15m",
        "open_time",
        ("symbol",),
        timedelta(minutes=15),
        timedelta(days=2),
        "crypto backfill candles_15m",
    ),
    TableSpec(
        "candles_1h",
        "open_time",
        ("symbol",),
        timedelta(hours=1),
        timedelta(days=2),
        "crypto backfill candles_1h",
    ),
    TableSpec(
        "candles_1d",
        "open_time",
        ("symbol",),
        timedelta(days=1),
        timedelta(days=3),
        "crypto backfill candles_1d",
    ),
    TableSpec(
        "price_downsampled",
        "bucket_start",
        ("symbol", "bucket_width"),
        None,
        timedelta(days=2),
        "crypto backfill price_downsampled",
        step_in_key=True,
    ),
    TableSpec(
        "market_metrics_daily",
        "day",
        ("symbol",),
        timedelta(days=1),
        timedelta(days=3),
        "crypto backfill market_metrics_daily",
        date_typed=True,
    ),
)

_SERIES: ColumnTypes = {
    "series": pl.String,
    "symbol": pl.String,
    "first": pl.Datetime("us", "UTC"),
    "last": pl.Datetime("us", "UTC"),
    "rows_in_window": pl.Int64,
    "expected": pl.Int64,
    "missing": pl.Int64,
}


@dataclass(frozen=True)
class TableHealth:
    """One table: ``rows`` (exact when ``rows_exact``), first and last time over every series,
    ``age`` of the last (how long before now it opened or was sampled), and ``series`` (series, symbol, first, last,
    rows_in_window, expected, missing; expected and missing are null for irregular tables)."""

    spec: TableSpec
    rows: int
    rows_exact: bool
    first: datetime | None
    last: datetime | None
    age: timedelta | None
    series: pl.DataFrame

    @property
    def fresh(self) -> bool | None:
        """True when the last row is recent enough, None for an empty table."""
        return None if self.age is None else self.age <= self.spec.fresh_within

    @property
    def missing(self) -> int:
        return int(self.series["missing"].fill_null(0).sum())


@dataclass(frozen=True)
class HealthView:
    now: datetime
    window: timedelta
    tables: tuple[TableHealth, ...]


def row_count(cur: cursor, table: str, timescaledb: bool) -> tuple[int, bool]:
    """(rows, exact): the planner's estimate when it is large, else an exact count."""
    if timescaledb:
        cur.execute("SELECT approximate_row_count(%s::regclass)", (table,))
    else:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (table,))
    estimate = scalar(cur)
    if estimate is not None and estimate >= EXACT_COUNT_BELOW:
        return int(estimate), False
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    return scalar(cur), True


def _ceil_to_grid(moment: datetime, step: timedelta) -> datetime:
    return _EPOCH + step * -((_EPOCH - moment) // step)


def _missing(
    first: datetime, last: datetime, rows: int, lo: datetime, step: timedelta
) -> tuple[int, int]:
    """(expected, missing) slots of ``step`` from max(first, lo) to ``last``, given ``rows``."""
    begin = max(first, _ceil_to_grid(lo, step))
    expected = (last - begin) // step + 1 if last >= begin else 0
    return expected, max(expected - rows, 0)


def _series(cur: cursor, spec: TableSpec, lo: datetime) -> list[tuple[Any, ...]]:
    """Per series key: key values, first, last (as timestamptz) and rows in [lo, last]."""
    time = sql.Identifier(spec.time_column)
    match = sql.SQL(" AND ").join(
        sql.SQL("x.{c} = k.{c}").format(c=sql.Identifier(c)) for c in spec.keys
    )
    as_time = sql.SQL("(({}::timestamp) AT TIME ZONE 'UTC')" if spec.date_typed else "{}")
    lo_param = sql.SQL("%(lo)s::date" if spec.date_typed else "%(lo)s")
    query = skip_scan(spec.table, spec.keys) + sql.SQL(
        " SELECT k.*, {f}, {l}, (SELECT count(*) FROM {table} x WHERE {match}"
        "  AND x.{t} >= greatest(f.t, {lo}) AND x.{t} <= l.t)"
        " FROM k CROSS JOIN LATERAL (SELECT {t} FROM {table} x WHERE {match} ORDER BY {t} LIMIT 1) f(t)"
        " CROSS JOIN LATERAL (SELECT {t} FROM {table} x WHERE {match} ORDER BY {t} DESC LIMIT 1) l(t)"
        " ORDER BY {keys}"
    ).format(
        f=as_time.format(sql.SQL("f.t")),
        l=as_time.format(sql.SQL("l.t")),
        table=sql.Identifier(spec.table),
        match=match,
        t=time,
        lo=lo_param,
        keys=sql.SQL(", ").join(sql.Identifier(c) for c in spec.keys),
    )
    if spec.date_typed:  # a date compares whole days: start at the first midnight inside the window
        lo = _ceil_to_grid(lo, timedelta(days=1))
    cur.execute(query, {"lo": lo})
    return cur.fetchall()


def table_health(
    cur: cursor, spec: TableSpec, now: datetime, window: timedelta, timescaledb: bool
) -> TableHealth:
    """The health of one table, with missing slots counted over the ``window`` before ``now``."""
    lo = now - window
    rows, exact = row_count(cur, spec.table, timescaledb)
    records = []
    for *key, first, last, in_window in _series(cur, spec, lo):
        step = key[-1] if spec.step_in_key else spec.step
        label = " · ".join([key[0], *(f"{describe(w)} window" for w in key[1:])])
        expected, missing = _missing(first, last, in_window, lo, step) if step else (None, None)
        records.append((label, key[0], first, last, in_window, expected, missing))
    series = pl.DataFrame(records, schema=_SERIES, orient="row")
    first = min((r[2] for r in records if r[2] is not None), default=None)
    last = max((r[3] for r in records if r[3] is not None), default=None)
    age = None if last is None else max(now - last, timedelta(0))
    return TableHealth(spec, rows, exact, first, last, age, series)


def health_view(conn: connection, window: timedelta = timedelta(days=7)) -> HealthView:
    """The health of every table the platform fills, gaps counted over the last ``window``."""
    timescaledb = has_timescaledb(conn)
    with conn.cursor() as cur:
        cur.execute("SELECT now()")
        now = scalar(cur)
        tables = tuple(table_health(cur, spec, now, window, timescaledb) for spec in TABLES)
    return HealthView(now, window, tables)
