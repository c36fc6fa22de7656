"""Rollups computed inside the database: candles_1h, candles_1d, market_metrics_daily, price_downsampled.

Each ``write_*`` function replaces one symbol's window of its table (delete, then
``INSERT .. SELECT``) inside the caller's transaction, so a re-run gives the same rows and a
failed run changes nothing. All sums are ``numeric`` sums, exact to the digit. Buckets come from
``date_bin`` (PostgreSQL 14+), so the same SQL runs on TimescaleDB and on plain PostgreSQL.

Why SQL and not polars: measured in ``bench/bench_aggregates.py`` (figures in BENCHMARKS.md),
aggregating where the rows live avoids shipping millions of numeric values out and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg2.extensions import cursor

ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"  # a UTC midnight: buckets align to UTC days


def _hour_aggregate(table: str, extra_filter: str = "") -> str:
    """Hourly OHLCV of one symbol's window of a candle table (first open, last close, exact sums)."""
    return f"""
    SELECT date_bin('1 hour', open_time, {ORIGIN}) AS bucket,
           (array_agg(open ORDER BY open_time))[1] AS open, max(high) AS high, min(low) AS low,
           (array_agg(close ORDER BY open_time DESC))[1] AS close,
           sum(volume) AS volume, sum(quote_volume) AS quote_volume, sum(trade_count) AS trade_count,
           sum(taker_buy_base_volume) AS taker_base, sum(taker_buy_quote_volume) AS taker_quote,
           count(*) AS n
    FROM {table}
    WHERE symbol = %(symbol)s AND open_time >= %(lo)s AND open_time < %(hi)s {extra_filter}
    GROUP BY 1"""


_HOUR_COLUMNS = (
    "bucket, bucket + interval '1 hour' - interval '1 millisecond', open, high, low, close, volume,"
    " quote_volume, trade_count, taker_base, taker_quote, quote_volume / NULLIF(volume, 0), n"
)

# One row per hour of the window: its candle built from closed 1m candles when they cover the
# hour (or when the 15m candles do not), else from the 15m candles. Never both in one hour.
_HOURS_SQL = f"""
WITH m AS ({_hour_aggregate("candles_1m", "AND is_closed")}
), q AS ({_hour_aggregate("candles_15m")}
), chosen AS (
    SELECT bucket, (m.n IS NULL OR (m.n < 60 AND coalesce(q.n = 4, false))) AS use_15m FROM m FULL JOIN q USING (bucket)
)
INSERT INTO candles_1h (symbol, open_time, close_time, open, high, low, close, volume, quote_volume,
    trade_count, taker_buy_base_volume, taker_buy_quote_volume, vwap, source_candles, is_complete,
    source_interval)
SELECT %(symbol)s, {_HOUR_COLUMNS}, n = 60, '1m' FROM m JOIN chosen USING (bucket) WHERE NOT use_15m
UNION ALL
SELECT %(symbol)s, {_HOUR_COLUMNS}, n = 4, '15m' FROM q JOIN chosen USING (bucket) WHERE use_15m
"""

# One row per day of the window, from that day's candles_1h rows: complete only when all 24
# hours exist and each is complete.
_DAYS_SQL = f"""
INSERT INTO candles_1d (symbol, open_time, close_time, open, high, low, close, volume, quote_volume,
    trade_count, taker_buy_base_volume, taker_buy_quote_volume, vwap, source_candles, is_complete,
    source_interval)
SELECT %(symbol)s, day, day + interval '1 day' - interval '1 millisecond',
       (array_agg(open ORDER BY open_time))[1], max(high), min(low),
       (array_agg(close ORDER BY open_time DESC))[1], sum(volume), sum(quote_volume), sum(trade_count),
       sum(taker_buy_base_volume), sum(taker_buy_quote_volume),
       sum(quote_volume) / NULLIF(sum(volume), 0), sum(source_candles),
       count(*) = 24 AND bool_and(is_complete),
       CASE WHEN min(source_interval) = max(source_interval) THEN min(source_interval) ELSE 'mixed' END
FROM (SELECT *, date_bin('1 day', open_time, {ORIGIN}) AS day FROM candles_1h
      WHERE symbol = %(symbol)s AND open_time >= %(lo)s AND open_time < %(hi)s) h
GROUP BY day
"""

# Per day: close-to-close return against the previous day's candles_1d close, realized volatility
# sqrt(sum r^2) of the day's 1m log returns r = ln(close_t / close_t-1) (consecutive closed 1m
# candles within the UTC day), annualized by sqrt(365) (crypto trades every day), and the
# high-low range in percent of the day's open.
_METRICS_SQL = f"""
WITH r AS (
    SELECT date_bin('1 day', open_time, {ORIGIN}) AS day,
           ln(close::float8 / lag(close::float8) OVER (PARTITION BY date_bin('1 day', open_time, {ORIGIN})
                                                     ORDER BY open_time)) AS lr
    FROM candles_1m
    WHERE symbol = %(symbol)s AND open_time >= %(lo)s AND open_time < %(hi)s AND is_closed
), v AS (
    SELECT day, sqrt(sum(lr * lr)) AS rv, count(*) AS minutes FROM r GROUP BY day
)
INSERT INTO market_metrics_daily (symbol, day, open, close, previous_close, simple_return, log_return,
    realized_volatility, realized_volatility_annualized, range_pct, volume, quote_volume, trade_count,
    minutes_observed)
SELECT d.symbol, (d.open_time AT TIME ZONE 'UTC')::date, d.open, d.close, p.close,
       (d.close / NULLIF(p.close, 0) - 1)::float8, ln(d.close::float8 / NULLIF(p.close, 0)::float8),
       v.rv, v.rv * sqrt(365.0), ((d.high - d.low) / NULLIF(d.open, 0) * 100)::float8,
       d.volume, d.quote_volume, d.trade_count, coalesce(v.minutes, 0)
FROM candles_1d d
LEFT JOIN candles_1d p ON p.symbol = d.symbol AND p.open_time = d.open_time - interval '1 day'
LEFT JOIN v ON v.day = d.open_time
WHERE d.symbol = %(symbol)s AND d.open_time >= %(lo)s AND d.open_time < %(hi)s
"""

# Per window width and bucket: average, exact median (mean of the two middle prices for an even
# count), min, max and sample count of the raw prices.
_DOWNSAMPLE_SQL = f"""
INSERT INTO price_downsampled (symbol, bucket_start, bucket_width, avg_price, median_price, min_price,
    max_price, sample_count)
SELECT %(symbol)s, bucket_start, width, avg_price,
       (sorted[(n + 1) / 2] + sorted[(n + 2) / 2]) / 2, min_price, max_price, n
FROM (
    SELECT w.width, date_bin(w.width, s.sampled_at, {ORIGIN}) AS bucket_start,
           avg(s.price) AS avg_price, min(s.price) AS min_price, max(s.price) AS max_price,
           count(*)::int AS n, array_agg(s.price ORDER BY s.price) AS sorted
    FROM price_samples s CROSS JOIN unnest(%(widths)s::interval[]) AS w(width)
    WHERE s.symbol = %(symbol)s AND s.sampled_at >= %(lo)s AND s.sampled_at < %(hi)s
    GROUP BY 1, 2
) b
"""

_TIME_COLUMN = {
    "candles_1h": "open_time",
    "candles_1d": "open_time",
    "price_downsampled": "bucket_start",
}


@dataclass(frozen=True)
class Written:
    """What one symbol's window produced."""

    rows: int
    complete: int = 0  # buckets marked complete (candles only)
    from_15m: int = 0  # hours built from 15m candles because 1m ones were absent (candles_1h only)


def _replace(cur: cursor, table: str, symbol: str, lo: datetime, hi: datetime) -> None:
    if table == "market_metrics_daily":
        cur.execute(
            "DELETE FROM market_metrics_daily WHERE symbol = %s AND day >= %s::date AND day < %s::date",
            (symbol, lo.date(), hi.date()),
        )
        return
    column = _TIME_COLUMN[table]
    cur.execute(
        f"DELETE FROM {table} WHERE symbol = %s AND {column} >= %s AND {column} < %s",
        (symbol, lo, hi),
    )


def _candle_counts(cur: cursor, table: str, symbol: str, lo: datetime, hi: datetime) -> Written:
    cur.execute(
        f"SELECT count(*), count(*) FILTER (WHERE is_complete), count(*) FILTER (WHERE source_interval = '15m')"
        f" FROM {table} WHERE symbol = %s AND open_time >= %s AND open_time < %s",
        (symbol, lo, hi),
    )
    ((rows, complete, from_15m),) = cur.fetchall()
    return Written(rows, complete, from_15m)


def write_candles_1h(cur: cursor, symbol: str, lo: datetime, hi: datetime) -> Written:
    """Replace ``symbol``'s hours in [lo, hi) of candles_1h from candles_1m (15m where 1m is absent)."""
    _replace(cur, "candles_1h", symbol, lo, hi)
    cur.execute(_HOURS_SQL, {"symbol": symbol, "lo": lo, "hi": hi})
    return _candle_counts(cur, "candles_1h", symbol, lo, hi)


def write_candles_1d(cur: cursor, symbol: str, lo: datetime, hi: datetime) -> Written:
    """Replace ``symbol``'s days in [lo, hi) of candles_1d from its candles_1h rows."""
    _replace(cur, "candles_1d", symbol, lo, hi)
    cur.execute(_DAYS_SQL, {"symbol": symbol, "lo": lo, "hi": hi})
    return _candle_counts(cur, "candles_1d", symbol, lo, hi)


def write_market_metrics(cur: cursor, symbol: str, lo: datetime, hi: datetime) -> Written:
    """Replace ``symbol``'s days in [lo, hi) of market_metrics_daily from candles_1d and candles_1m."""
    _replace(cur, "market_metrics_daily", symbol, lo, hi)
    cur.execute(_METRICS_SQL, {"symbol": symbol, "lo": lo, "hi": hi})
    return Written(cur.rowcount)


def write_price_downsampled(
    cur: cursor, symbol: str, lo: datetime, hi: datetime, widths_s: list[int]
) -> Written:
    """Replace ``symbol``'s buckets in [lo, hi) of price_downsampled, one set per window width."""
    _replace(cur, "price_downsampled", symbol, lo, hi)
    widths = [f"{seconds} seconds" for seconds in widths_s]
    cur.execute(_DOWNSAMPLE_SQL, {"symbol": symbol, "lo": lo, "hi": hi, "widths": widths})
    return Written(cur.rowcount)
