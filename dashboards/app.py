"""The crypto-assets dashboard: `streamlit run dashboards/app.py` (started by `make up`,
`make demo` and docker-compose on http://localhost:8501).

Read-only over the warehouse at ``DATABASE_URL`` (the dashboard's own read-only role where
the platform created one). Each page keeps its selections in the URL, so a view is a link.
The pages live in ``views/``, not ``pages/``: Streamlit treats a ``pages/`` folder as the older
multipage layout and would run those files without this entry point.
"""

from __future__ import annotations

import streamlit as st
from ui import data

from crypto_assets.warehouse.db import redact

st.set_page_config(
    page_title="crypto-assets", page_icon="📈", layout="wide"
)  # an emoji: no icon download
navigation = st.navigation(
    [
        st.Page(
            "views/market.py", title="Market", icon=":material/candlestick_chart:", default=True
        ),
        st.Page("views/downsampled.py", title="Downsampled", icon=":material/ssid_chart:"),
        st.Page("views/volatility.py", title="Volatility", icon=":material/show_chart:"),
        st.Page("views/live.py", title="Live", icon=":material/sensors:"),
        st.Page("views/health.py", title="Data health", icon=":material/monitor_heart:"),
    ]
)
with st.sidebar:
    st.caption(
        f"Binance spot market data · all times UTC\n\nWarehouse: `{redact(data.database_url())}`"
    )
navigation.run()
