"""Exact rows of the series tables, as the HTTP API hands them out: COPY batches, JSON objects
and a cheap fingerprint of a range.

The dashboard's queries chart (bucketed, ``float8``); these return every row of one symbol's
range as stored: ``numeric`` as its decimal text (never a float), column names as in the table.
PostgreSQL writes the text itself: batches with ``COPY .. CSV``, either as clients read them
(times as ISO 8601 UTC text, flags true/false) or, for a typed reader (pyarrow), as its plain
output, the cheapest it has; single rows as JSON with ``json_object``. No value becomes a
Python object on the way, so a year of 1m candles streams near COPY speed.

Long ranges are read in batches: [start, end) is cut into windows of ``batch_rows`` steps of the
table's cadence (a candle table holds at most one row per step and symbol), each window one
``COPY`` statement. So the statement timeout bounds every statement, not the whole download,
and memory holds one batch, whatever the range. The caller runs every batch in one
repeatable-read transaction, so a download is one consistent snapshot.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import cursor

from crypto_assets.warehouse.candles import CANDLE_COLUMNS
from crypto_assets.warehouse.queries.candles import INTERVALS
from crypto_assets.warehouse.queries.catalog import series_bounds

ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'
"""``to_char`` format of every time the API writes: 2024-03-08T00:14:59.999Z (UTC, milliseconds)."""

BATCH_ROWS = 2_500
"""Rows per COPY batch by default: about 0.45 MB of CSV for 1m candles. A stalled download holds
a few batches per stage, so this bounds the API's memory per client (twice as many rows held up
to 9 MB; no faster)."""


class Kind(enum.Enum):
    """How a column is written out."""

    TIME = "time"  # timestamptz: ISO 8601 UTC text
    DATE = "date"  # date: YYYY-MM-DD
    DECIMAL = "decimal"  # numeric: its exact decimal text
    INTEGER = "integer"
    BOOLEAN = "boolean"  # true / false
    FLOAT = "float"  # double precision, shortest text that reads back to the same value
    TEXT = "text"
    WIDTH = "width"  # price_downsampled.bucket_width: the requested width's label, e.g. "1m"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind


@dataclass(frozen=True)
class Series:
    """A table read per symbol (and per window width when ``by_width``), ordered by ``key``, with
    at most one row per ``step`` of its key."""

    table: str
    key: str
    step: timedelta
    columns: tuple[Column, ...]
    by_width: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def date_keyed(self) -> bool:
        return self.column(self.key).kind is Kind.DATE

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _kinds(spec: str) -> tuple[Column, ...]:
    """'name:kind name:kind ..' -> columns (kind names as in ``Kind``)."""
    return tuple(
        Column(name, Kind(kind)) for name, kind in (item.split(":") for item in spec.split())
    )


_CANDLE_KINDS = {
    "symbol": Kind.TEXT,
    "open_time": Kind.TIME,
    "close_time": Kind.TIME,
    "trade_count": Kind.INTEGER,
}
_CANDLE_BASE = tuple(Column(name, _CANDLE_KINDS.get(name, Kind.DECIMAL)) for name in CANDLE_COLUMNS)
_CANDLE_EXTRA = {
    "1m": _kinds("is_closed:boolean source:text"),
    "15m": (),
    "1h": _kinds("vwap:decimal source_candles:integer is_complete:boolean source_interval:text"),
    "1d": _kinds("vwap:decimal source_candles:integer is_complete:boolean source_interval:text"),
}

CANDLES: dict[str, Series] = {
    interval: Series(table.name, "open_time", table.step, _CANDLE_BASE + _CANDLE_EXTRA[interval])
    for interval, table in INTERVALS.items()
}
"""The candle tables by interval (1m, 15m, 1h, 1d), columns in table order."""

DOWNSAMPLED = Series(
    "price_downsampled",
    "bucket_start",
    timedelta(seconds=1),
    _kinds(
        "symbol:text bucket_start:time bucket_width:width avg_price:decimal median_price:decimal"
        " min_price:decimal max_price:decimal sample_count:integer"
    ),
    by_width=True,
)
METRICS = Series(
    "market_metrics_daily",
    "day",
    timedelta(days=1),
    _kinds(
        "symbol:text day:date open:decimal close:decimal previous_close:decimal simple_return:float"
        " log_return:float realized_volatility:float realized_volatility_annualized:float range_pct:float"
        " volume:decimal quote_volume:decimal trade_count:integer minutes_observed:integer"
    ),
)


@dataclass(frozen=True)
class Selection:
    """One symbol's rows of ``series`` with key in [lo, hi) (None: unbounded), of one window
    width for ``price_downsampled`` (``width`` and its label, e.g. timedelta(minutes=1), "1m")."""

    series: Series
    symbol: str
    lo: datetime | date | None = None
    hi: datetime | date | None = None
    width: timedelta | None = None
    width_label: str | None = None

    @classmethod
    def over(
        cls,
        series: Series,
        symbol: str,
        start: datetime | None,
        end: datetime | None,
        width: timedelta | None = None,
        width_label: str | None = None,
    ) -> Selection:
        """Rows whose key falls in [start, end): for a day-keyed table, the days whose UTC
        midnight does (so start=2024-01-01T12:00Z begins with 2024-01-02)."""
        if series.date_keyed:
            lo, hi = _first_day_from(start), _first_day_from(end)
            return cls(series, symbol, lo, hi, width, width_label)
        return cls(series, symbol, start, end, width, width_label)

    def after(self, key: datetime | date) -> Selection:
        """The same selection from ``key`` on (a cursor)."""
        lo = key if self.lo is None else max(self.lo, key)
        return Selection(self.series, self.symbol, lo, self.hi, self.width, self.width_label)

    def params(
        self, lo: datetime | date | None = None, hi: datetime | date | None = None
    ) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "width": self.width,
            "width_label": self.width_label,
            "lo": self.lo if lo is None else lo,
            "hi": self.hi if hi is None else hi,
        }

    def where(self, bounded: bool = False) -> sql.Composable:
        """The filter, with ``%(lo)s`` and ``%(hi)s`` placeholders where the selection has bounds
        (both always when ``bounded``)."""
        key = sql.Identifier(self.series.key)
        parts: list[sql.Composable] = [sql.SQL("symbol = %(symbol)s")]
        if self.series.by_width:
            parts.append(sql.SQL("bucket_width = %(width)s"))
        if bounded or self.lo is not None:
            parts.append(sql.SQL("{} >= %(lo)s").format(key))
        if bounded or self.hi is not None:
            parts.append(sql.SQL("{} < %(hi)s").format(key))
        return sql.SQL(" AND ").join(parts)


def _first_day_from(moment: datetime | None) -> date | None:
    """The first day whose UTC midnight is at or after ``moment``."""
    if moment is None:
        return None
    day = moment.astimezone(UTC).date()
    return day if datetime.combine(day, time.min, tzinfo=UTC) >= moment else day + timedelta(days=1)


_WIDTH_LABEL = sql.SQL("%(width_label)s::text")


def _json_value(column: Column) -> sql.Composable:
    """The column as a JSON value: times and decimals as strings, the rest as JSON has them."""
    ident = sql.Identifier(column.name)
    if column.kind is Kind.TIME:
        return sql.SQL("to_char({} AT TIME ZONE 'UTC', {})").format(ident, sql.Literal(ISO_UTC))
    if column.kind is Kind.DATE:
        return sql.SQL("to_char({}, 'YYYY-MM-DD')").format(ident)
    if column.kind is Kind.DECIMAL:
        return sql.SQL("{}::text").format(ident)
    return _WIDTH_LABEL if column.kind is Kind.WIDTH else ident


def json_object(series: Series) -> sql.Composable:
    """A row as a JSON object keyed by column name: decimals and times as strings, counts as
    numbers, flags as true/false."""
    pairs = [sql.SQL("{}, {}").format(sql.Literal(c.name), _json_value(c)) for c in series.columns]
    return sql.SQL("json_build_object({})").format(sql.SQL(", ").join(pairs))


def _csv_value(column: Column) -> sql.Composable:
    """The column as CSV clients read it: the JSON text, but flags as true/false."""
    if column.kind is Kind.BOOLEAN:
        return sql.SQL("{}::text").format(sql.Identifier(column.name))
    return (
        _json_value(column)
        if column.kind in (Kind.TIME, Kind.DATE, Kind.WIDTH)
        else sql.Identifier(column.name)
    )


def _plain_value(column: Column) -> sql.Composable:
    """The column as PostgreSQL writes it (times as 2024-03-08 00:14:59.999+00 in a UTC session,
    flags as t/f, days as YYYY-MM-DD with DateStyle ISO): for a reader that knows the types."""
    return _WIDTH_LABEL if column.kind is Kind.WIDTH else sql.Identifier(column.name)


def copy_batches(
    cur: cursor,
    selection: Selection,
    *,
    for_csv: bool,
    limit: int | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[bytes]:
    """The selection's rows as CSV without a header, one chunk per batch of at most
    ``batch_rows`` steps of the key, ``limit`` rows at most; no chunk for an empty window.
    ``for_csv``: values as CSV clients read them; else PostgreSQL's plain text of each."""
    series = selection.series
    first, last = series_bounds(
        cur, series.table, series.key, _series_key(selection), selection.lo, selection.hi
    )
    if first is None:
        return
    columns = (_csv_value(c) if for_csv else _plain_value(c) for c in series.columns)
    query = (
        sql.SQL(
            "COPY (SELECT {cols} FROM {table} WHERE {where} ORDER BY {key} LIMIT %(limit)s) TO STDOUT WITH (FORMAT csv)"
        )
        .format(
            cols=sql.SQL(", ").join(columns),
            table=sql.Identifier(series.table),
            where=selection.where(bounded=True),
            key=sql.Identifier(series.key),
        )
        .as_string(cur)
    )
    window, remaining = series.step * batch_rows, limit
    lo = first
    while lo <= last and (remaining is None or remaining > 0):
        hi = lo + window
        if selection.hi is not None:
            hi = min(hi, selection.hi)
        sink = io.BytesIO()  # psycopg2 writes row by row: a C method is the cheapest sink
        cur.copy_expert(
            cur.mogrify(query, {**selection.params(lo, hi), "limit": remaining}).decode(), sink
        )
        if remaining is not None:
            remaining -= cur.rowcount
        if sink.tell():
            yield sink.getvalue()
        lo = hi


def _series_key(selection: Selection) -> dict[str, Any]:
    key: dict[str, Any] = {"symbol": selection.symbol}
    if selection.series.by_width:
        key["bucket_width"] = selection.width
    return key


def fingerprint(cur: cursor, selection: Selection) -> tuple[Any, ...]:
    """A summary of the selection that changes whenever a row is added, removed or changed: the
    row count, the first and last key and, per column, the exact sum of its numbers or of its
    values' hashes. One pass over the range's rows, no text conversion (a year of 1m candles in
    about 0.2 s). For validators (ETags) of responses too long to hash before sending."""
    series = selection.series
    parts = [sql.SQL("count(*), min({k}), max({k})").format(k=sql.Identifier(series.key))]
    for column in series.columns:
        ident = sql.Identifier(column.name)
        if column.name == series.key or column.kind in (Kind.WIDTH, Kind.DATE):
            continue
        template = {
            Kind.DECIMAL: "sum({})",
            Kind.INTEGER: "sum({})",
            Kind.BOOLEAN: "count(*) FILTER (WHERE {})",
            Kind.FLOAT: "sum(hashfloat8({})::int8)",
            Kind.TEXT: "sum(hashtext({})::int8)",
            Kind.TIME: "sum(round(date_part('epoch', {}) * 1000000)::int8)",
        }[column.kind]
        parts.append(sql.SQL(template).format(ident))
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(parts), sql.Identifier(series.table), selection.where()
    )
    cur.execute(query, selection.params())
    (row,) = cur.fetchall()  # an aggregate: always one row
    return row
