"""Downsampled: the raw price samples against their windowed average and median."""

from __future__ import annotations

import streamlit as st
from ui import charts, data, formats, notices
from ui.state import UrlState

from crypto_assets.warehouse.queries.buckets import describe
from crypto_assets.warehouse.queries.samples import SPANS

st.title("Downsampled prices")
st.caption(
    "Raw stream samples against the average and median of each window (price_downsampled). All times UTC."
)
url = data.database_url()
symbols = notices.load(data.known_symbols, url)
if not symbols:
    notices.empty(
        "No price samples yet.",
        [
            "crypto stream",
            notices.backfill("price_downsampled", None, notices.today(), notices.today()),
        ],
    )
    st.stop()

page = UrlState("downsampled")
top = st.columns([2, 2, 3])
with top[0]:
    symbol = page.select("symbol", "Symbol", symbols, symbols[0])
widths = notices.load(data.window_widths, url, symbol)
with top[1]:
    width = (
        page.select("window", "Window width", widths, widths[0], fmt=describe) if widths else None
    )
with top[2]:
    span = page.select(
        "span", "Span (ending at the newest sample)", SPANS, SPANS[1], fmt=describe, radio=True
    )
page.publish()
page.report()

view = notices.load(data.downsampled, url, symbol, width, span)
if view.start is None or view.end is None:
    notices.empty(
        f"No price samples or windows for {symbol} yet.",
        [
            "crypto stream",
            notices.backfill("price_downsampled", symbol, notices.today(), notices.today()),
        ],
    )
    st.stop()
if not widths:
    st.info(f"{symbol} has raw samples but no windows yet.", icon=":material/info:")
    st.code(
        notices.backfill("price_downsampled", symbol, view.start.date(), view.end.date()),
        language="bash",
    )
st.plotly_chart(charts.samples_figure(view), key="samples")
raw = (
    formats.count(view.raw.height, "raw sample")
    if view.raw_bucket is None
    else f"raw samples as {formats.count(view.raw.height, 'min–max band')} of {describe(view.raw_bucket)}"
)
st.caption(
    f"{view.start:%Y-%m-%d %H:%M:%S} – {view.end:%Y-%m-%d %H:%M:%S} UTC: {raw},"
    f" {formats.count(view.windows.height, 'window')}."
)
if not view.windows.is_empty():
    gap = (view.windows["avg"] - view.windows["median"]).abs()
    quote = charts.split_symbol(symbol)[1]
    cols = st.columns(3)
    cols[0].metric("Samples in windows", f"{int(view.windows['samples'].sum()):,}")
    mean, largest = gap.mean(), gap.max()
    cols[1].metric(
        f"Mean |average − median| ({quote})",
        formats.price(mean if isinstance(mean, float) else None),
    )
    cols[2].metric(
        f"Largest |average − median| ({quote})",
        formats.price(largest if isinstance(largest, float) else None),
    )
