"""Candles for the Market page: OHLCV bucketed to the chart's budget, moving averages, VWAP.

The interval picks the table (1m -> ``candles_1m``, 15m, 1h, 1d). When the range is too long
for that interval, candles are merged into wider buckets in the database, and rows come from a
coarser table where it has them (a year of 1m candles is drawn from ``candles_1h``, 8,760 rows,
not 525,600): the coarse table covers the part of the range it holds, the requested table the
rest (for instance the hours the rollup has not reached yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from crypto_assets.warehouse.queries.buckets import MAX_POINTS, ORIGIN, bucket_width
from crypto_assets.warehouse.queries.catalog import series_bounds, split_range
from crypto_assets.warehouse.queries.frames import TIME, ColumnTypes, fetch_frame


@dataclass(frozen=True)
class CandleTable:
    """A candle table and the width of its candles."""

    name: str
    step: timedelta


INTERVALS: dict[str, CandleTable] = {
    "1m": CandleTable("candles_1m", timedelta(minutes=1)),
    "15m": CandleTable("candles_15m", timedelta(minutes=15)),
    "1h": CandleTable("candles_1h", timedelta(hours=1)),
    "1d": CandleTable("candles_1d", timedelta(days=1)),
}

MAX_MA_WINDOW = 500
_OHLCV: ColumnTypes = {
    "time": TIME,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
    "quote_volume": pl.Float64,
    "vwap": pl.Float64,
}


@dataclass(frozen=True)
class CandleSeries:
    """One symbol's candles as charted: ``frame`` has time (bucket start), OHLC, volume,
    quote_volume, vwap (anchored at the range start) and one ``ma_<n>`` column per average."""

    symbol: str
    interval: str
    bucket: timedelta
    sources: tuple[str, ...]
    frame: pl.DataFrame

    @property
    def points(self) -> int:
        return self.frame.height


@dataclass(frozen=True)
class MarketView:
    """The Market page: the main symbol's candles and the normalised closes to compare."""

    main: CandleSeries
    compare: tuple[CandleSeries, ...]


Segment = tuple[CandleTable, datetime, datetime]


def plan_segments(
    cur: cursor, symbol: str, interval: str, bucket: timedelta, lo: datetime, hi: datetime
) -> list[Segment]:
    """Which table serves which part of [lo, hi): the coarsest table with rows whose candles
    fit whole into ``bucket``, and the requested table before and after its rows."""
    requested = INTERVALS[interval]
    coarser = sorted(
        (
            t
            for t in INTERVALS.values()
            if requested.step < t.step <= bucket and bucket % t.step == timedelta(0)
        ),
        key=lambda t: t.step,
        reverse=True,
    )
    for table in coarser:
        first, last = series_bounds(cur, table.name, "open_time", {"symbol": symbol}, lo, hi)
        if first is not None:
            return [
                (table if covered else requested, a, b)
                for covered, a, b in split_range(lo, hi, first, last + table.step)
            ]
    return [(requested, lo, hi)]


def _ma_parts(windows: tuple[int, ...]) -> tuple[sql.Composable, sql.Composable]:
    """Select-list columns and WINDOW clause of the moving averages of ``close`` (NULL until
    a window holds ``n`` candles)."""
    if not windows:
        return sql.SQL(""), sql.SQL("")
    columns = sql.SQL("").join(
        sql.SQL(
            ", (CASE WHEN count(*) OVER w{n} >= {n} THEN avg(close) OVER w{n} END) AS ma_{n}"
        ).format(n=sql.SQL(str(n)))
        for n in windows
    )
    clauses = sql.SQL(", ").join(
        sql.SQL("w{n} AS (ORDER BY t ROWS BETWEEN {p} PRECEDING AND CURRENT ROW)").format(
            n=sql.SQL(str(n)), p=sql.SQL(str(n - 1))
        )
        for n in windows
    )
    return columns, sql.SQL(" WINDOW ") + clauses


def _validate_windows(ma_windows: Iterable[int]) -> tuple[int, ...]:
    windows = tuple(sorted({int(n) for n in ma_windows}))
    bad = [n for n in windows if not 2 <= n <= MAX_MA_WINDOW]
    if bad:
        raise ValueError(f"moving-average window {bad[0]} is outside 2..{MAX_MA_WINDOW} candles")
    return windows


def candle_series(
    conn: connection,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    ma_windows: Iterable[int] = (),
    budget: int = MAX_POINTS,
) -> CandleSeries:
    """``symbol``'s candles opening in [start, end), at most ``budget`` of them."""
    if interval not in INTERVALS:
        raise ValueError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
    if end <= start:
        raise ValueError(
            f"the range ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})"
        )
    windows = _validate_windows(ma_windows)
    bucket = bucket_width(start, end, INTERVALS[interval].step, budget)
    lo = start - bucket * (max(windows, default=1) - 1)
    with conn.cursor() as cur:
        segments = plan_segments(cur, symbol, interval, bucket, lo, end)
        union = sql.SQL(" UNION ALL ").join(
            sql.SQL(
                "SELECT open_time, open, high, low, close, volume, quote_volume FROM {table}"
                " WHERE symbol = %(symbol)s AND open_time >= {lo} AND open_time < {hi}"
            ).format(
                table=sql.Identifier(table.name), lo=sql.Literal(seg_lo), hi=sql.Literal(seg_hi)
            )
            for table, seg_lo, seg_hi in segments
        )
        ma_columns, ma_windows_sql = _ma_parts(windows)
        query = sql.SQL(
            "WITH src AS ({union}),"
            " b AS (SELECT date_bin(%(bucket)s, open_time, %(origin)s) AS t,"
            "  (array_agg(open ORDER BY open_time))[1] AS open, max(high) AS high, min(low) AS low,"
            "  (array_agg(close ORDER BY open_time DESC))[1] AS close,"
            "  sum(volume) AS volume, sum(quote_volume) AS quote_volume"
            "  FROM src GROUP BY 1),"
            " m AS (SELECT b.*{ma_columns} FROM b{ma_windows})"
            " SELECT t, open::float8, high::float8, low::float8, close::float8, volume::float8,"
            "  quote_volume::float8,"
            "  (sum(quote_volume) OVER w / nullif(sum(volume) OVER w, 0))::float8{ma_out}"
            " FROM m WHERE t >= %(start)s WINDOW w AS (ORDER BY t) ORDER BY t"
        ).format(
            union=union,
            ma_columns=ma_columns,
            ma_windows=ma_windows_sql,
            ma_out=sql.SQL("").join(
                sql.SQL(", ma_{}::float8").format(sql.SQL(str(n))) for n in windows
            ),
        )
        schema = {**_OHLCV, **{f"ma_{n}": pl.Float64 for n in windows}}
        frame = fetch_frame(
            cur,
            query,
            {"symbol": symbol, "bucket": bucket, "origin": ORIGIN, "start": start},
            schema,
        )
    sources = tuple(dict.fromkeys(table.name for table, _, _ in segments))
    return CandleSeries(symbol, interval, bucket, sources, frame)


def normalised_closes(series: CandleSeries) -> pl.DataFrame:
    """time and close as a percentage of the first close in the range (first = 100)."""
    frame = series.frame.select("time", "close")
    if frame.is_empty():
        return frame.with_columns(pl.lit(None, pl.Float64).alias("normalised"))
    return frame.with_columns((pl.col("close") / frame["close"][0] * 100).alias("normalised"))


def market_view(
    conn: connection,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    ma_windows: Iterable[int] = (),
    compare: Iterable[str] = (),
) -> MarketView:
    """Everything the Market page draws: main candles within the full point budget, and
    the compared symbols' closes sharing one budget (so that chart stays under it too)."""
    main = candle_series(conn, symbol, interval, start, end, ma_windows)
    others = [s for s in dict.fromkeys(compare) if s != symbol]
    if not others:
        return MarketView(main, ())
    budget = MAX_POINTS // (len(others) + 1)
    lines = tuple(
        candle_series(conn, s, interval, start, end, (), budget) for s in [symbol, *others]
    )
    return MarketView(main, lines)
