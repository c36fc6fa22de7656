"""Daily metrics for the Volatility page: rolling realized volatility, return distribution,
daily range, all from ``market_metrics_daily``.

Rolling realized volatility over ``n`` days is the root mean square of the daily annualized
realized volatilities (realized variances add up over days), shown once the window holds ``n``
days. Returns are binned in the database (``RETURN_BINS`` bins shared by all symbols), so the
histogram's size does not grow with the range. Long ranges keep the last value of each bucket
(rolling volatility) or the mean (daily range) to stay within the point budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from psycopg2.extensions import connection, cursor

from crypto_assets.warehouse.queries.buckets import MAX_POINTS, ORIGIN, bucket_width
from crypto_assets.warehouse.queries.frames import TIME, fetch_frame

RETURN_BINS = 40
MAX_WINDOW_DAYS = 365
_DAY = "(day::timestamp AT TIME ZONE 'UTC')"  # the day as the timestamptz of its UTC midnight


@dataclass(frozen=True)
class VolatilityView:
    """``rolling``: symbol, time, volatility (annualized, fraction). ``returns``: symbol, bin,
    lo, hi (log-return edges, fraction), days. ``ranges``: symbol, time, range_pct. Rolling and
    range points are one per ``bucket`` (a day unless the range is long). ``summary``: per symbol
    days, mean and stdev of log returns, mean range."""

    symbols: tuple[str, ...]
    start: date
    end: date
    window_days: int
    bucket: timedelta
    rolling: pl.DataFrame
    returns: pl.DataFrame
    ranges: pl.DataFrame
    summary: pl.DataFrame

    @property
    def points(self) -> dict[str, int]:
        return {
            "rolling volatility": self.rolling.height,
            "returns histogram": self.returns.height,
            "daily range": self.ranges.height,
        }


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


_CHOSEN = "FROM market_metrics_daily WHERE symbol = ANY(%(symbols)s) AND day >= %(start)s AND day <= %(end)s"


def _rolling(cur: cursor, params: dict[str, Any]) -> pl.DataFrame:
    return fetch_frame(
        cur,
        "WITH r AS (SELECT symbol, day, CASE WHEN count(realized_volatility_annualized) OVER w = %(window)s"
        "  THEN sqrt(avg(realized_volatility_annualized ^ 2) OVER w) END AS vol"
        "  FROM market_metrics_daily WHERE symbol = ANY(%(symbols)s) AND day >= %(lookback)s AND day <= %(end)s"
        "  WINDOW w AS (PARTITION BY symbol ORDER BY day ROWS BETWEEN %(preceding)s PRECEDING AND CURRENT ROW))"
        " SELECT DISTINCT ON (symbol, b) symbol, b, vol FROM (SELECT r.*, "
        f"date_bin(%(bucket)s, {_DAY}, %(origin)s) AS b"
        "  FROM r WHERE day >= %(start)s AND vol IS NOT NULL) x ORDER BY symbol, b, day DESC",
        params,
        {"symbol": pl.String, "time": TIME, "volatility": pl.Float64},
    )


def _returns(cur: cursor, params: dict[str, Any]) -> pl.DataFrame:
    return fetch_frame(
        cur,
        f"WITH r AS (SELECT symbol, log_return {_CHOSEN} AND log_return IS NOT NULL),"
        " e AS (SELECT min(log_return) AS lo, max(log_return) AS hi FROM r),"
        " binned AS (SELECT symbol, CASE WHEN e.hi > e.lo"
        "  THEN least(width_bucket(log_return, e.lo, e.hi, %(bins)s), %(bins)s) ELSE 1 END AS bin, e.lo, e.hi"
        "  FROM r, e)"
        " SELECT symbol, bin, lo + (bin - 1) * (hi - lo) / %(bins)s, lo + bin * (hi - lo) / %(bins)s, count(*)"
        " FROM binned GROUP BY symbol, bin, lo, hi ORDER BY symbol, bin",
        params,
        {
            "symbol": pl.String,
            "bin": pl.Int64,
            "lo": pl.Float64,
            "hi": pl.Float64,
            "days": pl.Int64,
        },
    )


def _ranges(cur: cursor, params: dict[str, Any]) -> pl.DataFrame:
    query = (
        f"SELECT symbol, date_bin(%(bucket)s, {_DAY}, %(origin)s), avg(range_pct) "
        f"{_CHOSEN} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return fetch_frame(
        cur, query, params, {"symbol": pl.String, "time": TIME, "range_pct": pl.Float64}
    )


def _summary(cur: cursor, params: dict[str, Any]) -> pl.DataFrame:
    query = (
        f"SELECT symbol, count(*), avg(log_return), stddev_samp(log_return), avg(range_pct) {_CHOSEN}"
        " GROUP BY symbol ORDER BY symbol"
    )
    schema = {
        "symbol": pl.String,
        "days": pl.Int64,
        "mean_log_return": pl.Float64,
        "stdev_log_return": pl.Float64,
        "mean_range_pct": pl.Float64,
    }
    return fetch_frame(cur, query, params, schema)


def volatility_view(
    conn: connection, symbols: Iterable[str], start: date, end: date, window_days: int = 30
) -> VolatilityView:
    """The Volatility page for ``symbols`` over the UTC days [start, end] (inclusive)."""
    symbols = tuple(dict.fromkeys(symbols))
    if not symbols:
        raise ValueError("choose at least one symbol")
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    if not 2 <= window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"rolling window {window_days} days is outside 2..{MAX_WINDOW_DAYS}")
    lo, hi = _midnight(start), _midnight(end + timedelta(days=1))
    bucket = bucket_width(lo, hi, timedelta(days=1), MAX_POINTS // len(symbols))
    params = {
        "symbols": list(symbols),
        "start": start,
        "end": end,
        "window": window_days,
        "preceding": window_days - 1,
        "lookback": start - timedelta(days=window_days - 1),
        "bucket": bucket,
        "origin": ORIGIN,
        "bins": RETURN_BINS,
    }
    with conn.cursor() as cur:
        return VolatilityView(
            symbols,
            start,
            end,
            window_days,
            bucket,
            rolling=_rolling(cur, params),
            returns=_returns(cur, params),
            ranges=_ranges(cur, params),
            summary=_summary(cur, params),
        )
