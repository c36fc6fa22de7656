"""Volatility: rolling realized volatility, the distribution of daily returns, the daily range."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st
from ui import charts, data, notices
from ui.state import UrlState

WINDOWS = (7, 14, 30, 60, 90)
MAX_SYMBOLS = 5
DEFAULT_SPAN = timedelta(days=179)  # the range first shown: the newest day and the 179 before it

st.title("Volatility")
st.caption(
    "From market_metrics_daily: realized volatility of 1m log returns, daily returns and ranges. UTC days."
)
url = data.database_url()
symbols = notices.load(data.known_symbols, url)
if not symbols:
    notices.empty(
        "No daily metrics yet.",
        [
            notices.backfill(
                "market_metrics_daily", None, notices.today() - DEFAULT_SPAN, notices.today()
            )
        ],
    )
    st.stop()

page = UrlState("volatility")
top = st.columns([3, 2, 3])
with top[0]:
    chosen = page.multiselect(
        "symbols", "Symbols", symbols, symbols[:2], max_selections=MAX_SYMBOLS
    )
newest = notices.load(data.latest_time, url, "market_metrics_daily", "day", (chosen or symbols)[0])
last_day = newest or datetime.now(UTC).date()
with top[1]:
    window = page.select("window", "Rolling window (days)", WINDOWS, 30)
with top[2]:
    start, end = page.date_range("Days (UTC, inclusive)", (last_day - DEFAULT_SPAN, last_day))
page.publish()
page.report()
if not chosen:
    st.info("Choose at least one symbol.", icon=":material/touch_app:")
    st.stop()

view = notices.load(data.volatility, url, tuple(chosen), start, end, window)
if view.summary.is_empty():
    st.info(
        f"No daily metrics for {', '.join(chosen)} from {start} to {end}.",
        icon=":material/search_off:",
    )
    notices.empty(
        "market_metrics_daily is empty for this selection.",
        [notices.backfill("market_metrics_daily", ",".join(chosen), start, end)],
    )
    st.stop()

if view.rolling.is_empty():
    st.info(
        f"Rolling volatility needs {window} days of metrics; this range has fewer. Widen it or pick a shorter window.",
        icon=":material/info:",
    )
else:
    st.plotly_chart(charts.rolling_volatility_figure(view), key="rolling")
left, right = st.columns(2)
with left:
    st.plotly_chart(charts.returns_figure(view), key="returns")
with right:
    st.plotly_chart(charts.daily_range_figure(view), key="ranges")
summary = view.summary.select(
    pl.col("symbol").alias("Symbol"),
    pl.col("days").alias("Days"),
    (pl.col("mean_log_return") * 100).alias("Mean daily log return (%)"),
    (pl.col("stdev_log_return") * 100).alias("Daily stdev (%)"),
    (pl.col("stdev_log_return") * math.sqrt(365) * 100).alias("Annualized (%)"),
    pl.col("mean_range_pct").alias("Mean daily range (%)"),
)
st.dataframe(
    summary,
    hide_index=True,
    column_config={c: st.column_config.NumberColumn(format="%.2f") for c in summary.columns[2:]},
)
