"""Live: last price and 24-hour change, the forming 1m candle, the last hour, the stream's health.

The panel is a Streamlit fragment that reruns by itself every ``REFRESH_S`` seconds: only it
is redrawn, the page is not reloaded and the selections stay put.
"""

from __future__ import annotations

import streamlit as st
from ui import charts, data, formats, notices
from ui.state import UrlState

from crypto_assets.warehouse.queries.live import LAG_HEALTHY, LiveView, stream_state, worst_lag

REFRESH_S = 3

st.title("Live")
st.caption(
    f"The stream as it lands in the warehouse; refreshes every {REFRESH_S} s. All times UTC."
)
url = data.database_url()
symbols = notices.load(data.known_symbols, url)
if not symbols:
    notices.empty("Nothing streamed yet.", ["crypto stream   # or: make up / make demo"])
    st.stop()
page = UrlState("live")
symbol = page.select("symbol", "Symbol", symbols, symbols[0], width=240)
page.publish()
page.report()


def stream_health(view: LiveView) -> None:
    st.subheader("Stream health")
    if view.connections.is_empty():
        st.warning(
            "No collector heartbeat in the warehouse: the stream is not running. Start it with "
            "`crypto stream` (or `make up`).",
            icon=":material/portable_wifi_off:",
        )
        return
    lag, state = worst_lag(view.connections), stream_state(view.connections)
    icon = {
        "healthy": ":material/check_circle:",
        "lagging": ":material/warning:",
        "stalled": ":material/error:",
    }[state]
    cols = st.columns(5)
    cols[0].metric(
        "Status",
        state.capitalize(),
        help=f"healthy: every connection heard from within {formats.age(LAG_HEALTHY)}",
    )
    cols[1].metric("Message lag (worst connection)", formats.age(lag))
    cols[2].metric("Reconnects", int(view.connections["reconnect_count"].sum()))
    cols[3].metric("Malformed messages dropped", int(view.connections["malformed_count"].sum()))
    cols[4].metric(
        "Symbols not streaming",
        view.not_streaming.height,
        help="configured symbols exchangeInfo says are not TRADING (checked every 5 minutes): "
        "unsubscribed until they trade again",
    )
    st.caption(
        f"{icon} {view.connections.height} connection(s), "
        f"{int(view.connections['streams'].sum())} streams, lag measured against the database clock."
    )
    st.dataframe(
        view.connections.drop("updated_at"),
        hide_index=True,
        column_config={
            "connection_id": "Connection",
            "streams": "Streams",
            "connected_at": st.column_config.DatetimeColumn(
                "Connected (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "last_message_at": st.column_config.DatetimeColumn(
                "Last message (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "lag_s": st.column_config.NumberColumn("Lag (s)", format="%.1f"),
            "reconnect_count": "Reconnects",
            "malformed_count": "Malformed",
        },
    )
    if not view.not_streaming.is_empty():
        named = ", ".join(
            f"{symbol} ({status})"
            for symbol, status in view.not_streaming.select("symbol", "status").iter_rows()
        )
        st.warning(f"Not streaming: {named}.", icon=":material/pause_circle:")
    if not view.drops.is_empty():
        st.caption("Dropped by the collector, by reason (counted since it started):")
        st.dataframe(
            view.drops, hide_index=True, column_config={"reason": "Reason", "count": "Count"}
        )


@st.fragment(run_every=REFRESH_S)
def live_panel(url: str, symbol: str) -> None:
    try:
        view = data.live_view(url, symbol)
    except data.DataUnavailable as err:
        st.error(str(err), icon=":material/cloud_off:")
        return
    base, quote = charts.split_symbol(symbol)
    if view.last_price is None or view.last_price_at is None:
        notices.empty(f"No 1m candles or samples for {symbol} yet.", ["crypto stream"])
    else:
        change = view.change_pct
        cols = st.columns(4)
        cols[0].metric(
            f"Last price ({quote})",
            formats.price(view.last_price),
            delta=None if change is None else f"{change:+.2f}% in 24 h",
        )
        cols[1].metric(
            "Price age",
            formats.age(view.now - view.last_price_at),
            help=f"at {view.last_price_at:%Y-%m-%d %H:%M:%S} UTC",
        )
        forming = view.forming
        if forming is None:
            cols[2].metric("Forming 1m candle", "—", help="the newest minute is closed")
        else:
            cols[2].metric(
                f"Forming 1m candle ({forming['time']:%H:%M} UTC)",
                formats.price(forming["close"]),
                delta=f"{(forming['close'] / forming['open'] - 1) * 100:+.3f}% since open",
            )
            cols[3].metric(
                f"Forming volume ({base})",
                f"{forming['volume']:,.4f}",
                help=f"O {formats.price(forming['open'])} · H {formats.price(forming['high'])} · "
                f"L {formats.price(forming['low'])} · C {formats.price(forming['close'])}",
            )
        if not view.last_hour.is_empty():
            st.plotly_chart(charts.last_hour_figure(view), key="last_hour")
    stream_health(view)
    st.caption(f"Updated {view.now:%Y-%m-%d %H:%M:%S} UTC")


live_panel(url, symbol)
