"""The dashboard's database access: which URL, a small pool of read-only sessions, and each
page's data cached for a short time.

Every failure a visitor can meet (database down, schema missing, a query refused or too slow)
becomes ``DataUnavailable`` with a sentence that says what happened and what to do; the pages
show it instead of a traceback. Cached functions take the URL as an argument so two databases
never share cache entries, and errors are never cached: the next rerun tries again.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import psycopg2
import psycopg2.pool
import streamlit as st

from crypto_assets.warehouse.db import explain_read_error
from crypto_assets.warehouse.queries import candles, catalog, health, live, metrics, samples
from crypto_assets.warehouse.server import local_database_url
from ui import dagster

PAGE_TTL_S = 30
LIVE_TTL_S = 2
STATEMENT_TIMEOUT_S = 10
_SESSION_OPTIONS = f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_S}s -c TimeZone=UTC"


class DataUnavailable(RuntimeError):
    """The page's data cannot be read; the message is written for the visitor."""


def database_url() -> str:
    """``DATABASE_URL``, or the local server `make up` runs when it is unset."""
    return os.environ.get("DATABASE_URL", "").strip() or local_database_url()


@st.cache_resource(show_spinner=False)
def _pool(url: str) -> psycopg2.pool.ThreadedConnectionPool:
    return psycopg2.pool.ThreadedConnectionPool(
        0, 4, url, connect_timeout=3, application_name="crypto-dashboard", options=_SESSION_OPTIONS
    )


def explain(err: psycopg2.Error, url: str) -> str:
    """What a database error means for the visitor, and what to do about it."""
    return explain_read_error(
        err, url, reader="The dashboard", subject="this page", timeout_s=STATEMENT_TIMEOUT_S
    )


@contextmanager
def session(url: str):
    """A read-only, repeatable-read session from the pool (one consistent snapshot per page)."""
    pool = _pool(url)
    try:
        conn = pool.getconn()
    except psycopg2.pool.PoolError:
        raise DataUnavailable(
            "The dashboard is busy (every database session is in use); try again."
        ) from None
    except psycopg2.Error as err:
        raise DataUnavailable(explain(err, url)) from None
    broken = False
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True, autocommit=False)
        yield conn
        conn.rollback()
    except psycopg2.Error as err:
        broken = True
        raise DataUnavailable(explain(err, url)) from None
    finally:
        pool.putconn(conn, close=broken or bool(conn.closed))


def _read(url: str, view, *args):
    with session(url) as conn:
        return view(conn, *args)


@st.cache_data(ttl=60, show_spinner=False)
def known_symbols(url: str) -> list[str]:
    return _read(url, catalog.known_symbols)


@st.cache_data(ttl=60, show_spinner=False)
def latest_time(url: str, table: str, time_column: str, symbol: str) -> datetime | date | None:
    """The newest ``time_column`` of ``symbol`` in ``table`` (None: no rows)."""

    def newest(conn):
        with conn.cursor() as cur:
            return catalog.series_bounds(cur, table, time_column, {"symbol": symbol})[1]

    return _read(url, newest)


@st.cache_data(ttl=PAGE_TTL_S, show_spinner=False)
def market(
    url: str,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    ma: tuple[int, ...],
    compare: tuple[str, ...],
) -> candles.MarketView:
    return _read(url, candles.market_view, symbol, interval, start, end, ma, compare)


@st.cache_data(ttl=PAGE_TTL_S, show_spinner=False)
def window_widths(url: str, symbol: str) -> tuple[timedelta, ...]:
    return _read(url, samples.window_widths, symbol)


@st.cache_data(ttl=PAGE_TTL_S, show_spinner=False)
def downsampled(
    url: str, symbol: str, width: timedelta | None, span: timedelta
) -> samples.DownsampledView:
    return _read(url, samples.downsampled_view, symbol, width, span)


@st.cache_data(ttl=PAGE_TTL_S, show_spinner=False)
def volatility(
    url: str, symbols: tuple[str, ...], start: date, end: date, window: int
) -> metrics.VolatilityView:
    return _read(url, metrics.volatility_view, symbols, start, end, window)


@st.cache_data(ttl=LIVE_TTL_S, show_spinner=False)
def live_view(url: str, symbol: str) -> live.LiveView:
    return _read(url, live.live_view, symbol)


@st.cache_data(ttl=PAGE_TTL_S, show_spinner=False)
def health_view(url: str, window: timedelta) -> health.HealthView:
    return _read(url, health.health_view, window)


@st.cache_data(ttl=PAGE_TTL_S, show_spinner=False)
def dagster_status(graphql_url: str) -> list[dagster.AssetStatus]:
    return dagster.fetch_status(graphql_url)
