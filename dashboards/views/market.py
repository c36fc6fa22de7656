"""Market: candlesticks with volume for a symbol and a date range at 1m, 15m, 1h or 1d,
moving averages and VWAP on top, and other symbols compared as normalised closes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st
from ui import charts, data, formats, notices
from ui.state import UrlState

from crypto_assets.warehouse.queries.buckets import describe
from crypto_assets.warehouse.queries.candles import INTERVALS

AVERAGES = (7, 20, 50, 100, 200)
DEFAULT_SPAN = timedelta(days=6)  # the range first shown: the newest day and the six before it

st.title("Market")
st.caption(
    "Candles from the warehouse, aggregated in the database when the range is long. All times UTC."
)
url = data.database_url()
symbols = notices.load(data.known_symbols, url)
if not symbols:
    notices.empty(
        "No market data yet.",
        [
            notices.backfill("candles_15m", None, notices.today() - DEFAULT_SPAN, notices.today()),
            "crypto stream   # live 1m candles and price samples",
        ],
    )
    st.stop()

page = UrlState("market")
top = st.columns([2, 3, 3])
with top[0]:
    symbol = page.select("symbol", "Symbol", symbols, symbols[0])
with top[1]:
    interval = page.select("interval", "Interval", list(INTERVALS), "15m", radio=True)
table = INTERVALS[interval].name
newest = notices.load(data.latest_time, url, table, "open_time", symbol)
last_day = (newest if isinstance(newest, datetime) else datetime.now(UTC)).date()
with top[2]:
    start, end = page.date_range("Days (UTC, inclusive)", (last_day - DEFAULT_SPAN, last_day))
options = st.columns([3, 1, 3])
with options[0]:
    averages = page.multiselect("ma", "Moving averages (candles)", AVERAGES, (20, 50))
with options[1]:
    vwap = page.toggle("vwap", "VWAP", True)
with options[2]:
    compare = page.multiselect("compare", "Compare with", [s for s in symbols if s != symbol], ())
page.publish()
page.report()

lo = datetime.combine(start, time(), UTC)
hi = datetime.combine(end + timedelta(days=1), time(), UTC)
view = notices.load(data.market, url, symbol, interval, lo, hi, tuple(averages), tuple(compare))
main = view.main
if main.frame.is_empty():
    st.info(
        f"No {interval} candles for {symbol} from {start} to {end} (UTC).",
        icon=":material/search_off:",
    )
    if newest is None:
        notices.empty(
            f"{table} holds nothing for {symbol}.", [notices.backfill(table, symbol, start, end)]
        )
    else:
        st.caption(
            f"The newest {interval} candle of {symbol} opened at {newest:%Y-%m-%d %H:%M} UTC."
        )
else:
    st.plotly_chart(charts.candles_figure(main, averages=bool(averages), vwap=vwap), key="candles")
    merged = (
        f", each merging {describe(main.bucket)} of {interval} data"
        if main.bucket != INTERVALS[interval].step
        else ""
    )
    st.caption(
        f"{formats.count(main.points, 'candle')}{merged}; read from {' and '.join(main.sources)}. "
        "VWAP is anchored at the start of the range."
    )
if view.compare:
    st.plotly_chart(charts.compare_figure(view.compare), key="compare")
