"""Raw price samples against their windowed average and median, for the Downsampled page.

The chart holds at most ``RAW_BUDGET`` raw samples; a longer span shows the raw series as a
min-max band per bucket instead (every sample inside it), read from the stored windows' min and
max where they exist (exact, and a week is 10,080 windows instead of 302,400 samples). The windows come from
``price_downsampled`` at the chosen width; when the span holds more than ``WINDOW_BUDGET`` of
them they are merged in the database: sample-weighted average, median of the window medians,
min of mins and max of maxes (the page says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
from psycopg2 import sql
from psycopg2.extensions import connection, cursor

from crypto_assets.warehouse.queries.buckets import ORIGIN, bucket_width
from crypto_assets.warehouse.queries.catalog import distinct_keys, series_bounds, split_range
from crypto_assets.warehouse.queries.frames import TIME, ColumnTypes, fetch_frame

RAW_BUDGET = 1_000
"""Raw samples drawn one by one; beyond it, a band of RAW_BUDGET // 2 buckets (two values each)."""
WINDOW_BUDGET = 500
"""Windows per line (average and median: two lines)."""

SPANS = (
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(days=7),
)
"""Spans the Downsampled page offers, each ending at the symbol's newest sample."""


@dataclass(frozen=True)
class DownsampledView:
    """The Downsampled page for one symbol, window width and span ending at its newest data.

    ``raw`` has time and price (``raw_bucket`` None) or time, low, high per ``raw_bucket``.
    ``windows`` has time, avg, median, min, max, samples per ``window_bucket`` (the width itself
    unless merged).
    """

    symbol: str
    widths: tuple[timedelta, ...]
    width: timedelta | None
    start: datetime | None
    end: datetime | None
    raw: pl.DataFrame
    raw_bucket: timedelta | None
    windows: pl.DataFrame
    window_bucket: timedelta | None

    @property
    def points(self) -> int:
        """Values sent to the chart: raw points (or two per band bucket) plus two lines."""
        return self.raw.height * (1 if self.raw_bucket is None else 2) + self.windows.height * 2


_RAW: ColumnTypes = {"time": TIME, "price": pl.Float64}
_BAND: ColumnTypes = {"time": TIME, "low": pl.Float64, "high": pl.Float64}
_WINDOWS: ColumnTypes = {
    "time": TIME,
    "avg": pl.Float64,
    "median": pl.Float64,
    "min": pl.Float64,
    "max": pl.Float64,
    "samples": pl.Int64,
}


def window_widths(conn: connection, symbol: str) -> tuple[timedelta, ...]:
    """The window widths ``price_downsampled`` holds for ``symbol``, narrowest first."""
    with conn.cursor() as cur:
        keys = distinct_keys(cur, "price_downsampled", ["symbol", "bucket_width"])
    return tuple(sorted(width for s, width in keys if s == symbol))


def _band_sources(
    cur: cursor,
    symbol: str,
    widths: Sequence[timedelta],
    bucket: timedelta,
    start: datetime,
    stop: datetime,
) -> sql.Composable:
    """Rows (t, low, high) covering [start, stop): the widest stored window that divides
    ``bucket`` where it has rows (its min and max are the samples' own), raw samples elsewhere."""
    pieces, width = [(False, start, stop)], None
    usable = [w for w in widths if w <= bucket and bucket % w == timedelta(0)]
    if usable:
        width = max(usable)
        first, last = series_bounds(
            cur,
            "price_downsampled",
            "bucket_start",
            {"symbol": symbol, "bucket_width": width},
            start,
            stop,
        )
        if first is not None:
            pieces = split_range(start, stop, first, last + width)
    windows = sql.SQL(
        "SELECT bucket_start, min_price, max_price FROM price_downsampled WHERE symbol = %(symbol)s"
        " AND bucket_width = {w} AND bucket_start >= {a} AND bucket_start < {b}"
    )
    samples = sql.SQL(
        "SELECT sampled_at, price, price FROM price_samples WHERE symbol = %(symbol)s"
        " AND sampled_at >= {a} AND sampled_at < {b}"
    )
    return sql.SQL(" UNION ALL ").join(
        (windows if covered else samples).format(
            w=sql.Literal(width), a=sql.Literal(a), b=sql.Literal(b)
        )
        for covered, a, b in pieces
    )


def _raw(
    cur: cursor, symbol: str, widths: Sequence[timedelta], start: datetime, end: datetime
) -> tuple[pl.DataFrame, timedelta | None]:
    """The samples in [start, end], or their min-max band when there are too many to draw."""
    raw = fetch_frame(
        cur,
        "SELECT sampled_at, price::float8 FROM price_samples WHERE symbol = %(symbol)s"
        " AND sampled_at >= %(start)s AND sampled_at <= %(end)s ORDER BY sampled_at LIMIT %(limit)s",
        {"symbol": symbol, "start": start, "end": end, "limit": RAW_BUDGET + 1},
        _RAW,
    )
    if raw.height <= RAW_BUDGET:
        return raw, None
    bucket = bucket_width(start, end, timedelta(seconds=1), RAW_BUDGET // 2)
    sources = _band_sources(cur, symbol, widths, bucket, start, end + timedelta(microseconds=1))
    band = fetch_frame(
        cur,
        sql.SQL(
            "SELECT date_bin(%(bucket)s, t, %(origin)s) AS b, min(low)::float8, max(high)::float8"
            " FROM ({sources}) src(t, low, high) GROUP BY 1 ORDER BY 1"
        ).format(sources=sources),
        {"symbol": symbol, "bucket": bucket, "origin": ORIGIN},
        _BAND,
    )
    return band, bucket


def _windows(
    cur: cursor, symbol: str, width: timedelta, start: datetime, end: datetime
) -> tuple[pl.DataFrame, timedelta]:
    bucket = bucket_width(start, end, width, WINDOW_BUDGET)
    frame = fetch_frame(
        cur,
        "SELECT date_bin(%(bucket)s, bucket_start, %(origin)s) AS t,"
        " (sum(avg_price * sample_count) / nullif(sum(sample_count), 0))::float8,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY median_price::float8),"
        " min(min_price)::float8, max(max_price)::float8, sum(sample_count)::bigint"
        " FROM price_downsampled WHERE symbol = %(symbol)s AND bucket_width = %(width)s"
        " AND bucket_start >= %(start)s AND bucket_start <= %(end)s GROUP BY 1 ORDER BY 1",
        {
            "symbol": symbol,
            "width": width,
            "start": start,
            "end": end,
            "bucket": bucket,
            "origin": ORIGIN,
        },
        _WINDOWS,
    )
    return frame, bucket


def downsampled_view(
    conn: connection, symbol: str, width: timedelta | None, span: timedelta
) -> DownsampledView:
    """Raw samples and windows of ``symbol`` over the ``span`` ending at its newest sample or
    window; ``width`` None (or one the table lacks) picks the narrowest width there is."""
    widths = window_widths(conn, symbol)
    if width not in widths:
        width = widths[0] if widths else None
    with conn.cursor() as cur:
        _, end = series_bounds(cur, "price_samples", "sampled_at", {"symbol": symbol})
        if width is not None:
            _, last_window = series_bounds(
                cur, "price_downsampled", "bucket_start", {"symbol": symbol, "bucket_width": width}
            )
            end = max(t for t in (end, last_window) if t is not None)
        if end is None:
            empty_raw, empty_windows = pl.DataFrame(schema=_RAW), pl.DataFrame(schema=_WINDOWS)
            return DownsampledView(
                symbol, widths, width, None, None, empty_raw, None, empty_windows, None
            )
        start = end - span
        raw, raw_bucket = _raw(cur, symbol, widths, start, end)
        if width is None:
            windows, window_bucket = pl.DataFrame(schema=_WINDOWS), None
        else:
            windows, window_bucket = _windows(cur, symbol, width, start, end)
    return DownsampledView(
        symbol, widths, width, start, end, raw, raw_bucket, windows, window_bucket
    )
