"""Run a dashboard page in Streamlit's ``AppTest`` and read back what it drew."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import polars as pl
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
PAGES = {
    "market": "views/market.py",
    "downsampled": "views/downsampled.py",
    "volatility": "views/volatility.py",
    "live": "views/live.py",
    "health": "views/health.py",
}


def open_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    """Run ``page`` (fresh caches) with ``query`` as its URL query string; fail on any exception."""
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query or {})
    at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _decode(value):
    """Plotly's JSON packs arrays as base64 ``{"dtype", "bdata"}``; return plain lists."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(
            base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])
        ).tolist()
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def figures(at: AppTest) -> list[dict]:
    """Every Plotly figure on the page, as decoded JSON (``data`` and ``layout``)."""
    return [_decode(json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def trace(figure: dict, name: str) -> dict:
    """The trace called ``name`` in ``figure``."""
    found = [t for t in figure["data"] if t.get("name") == name]
    assert found, f"no trace {name!r} in {[t.get('name') for t in figure['data']]}"
    return found[0]


def texts(at: AppTest, kind: str) -> list[str]:
    """The text of every element of ``kind`` (error, warning, info, caption, markdown, ...)."""
    return [str(e.value) for e in getattr(at, kind)]


def metric(at: AppTest, label_start: str):
    """The metric whose label starts with ``label_start``."""
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert found, f"no metric {label_start!r} among {[m.label for m in at.metric]}"
    return found[0]


def records(element) -> list[dict]:
    """The rows of an ``st.dataframe`` element as dicts (nulls as None)."""
    return pl.from_pandas(element.value, nan_to_null=True).to_dicts()


def table_with(at: AppTest, column: str) -> list[dict]:
    """The rows of the first ``st.dataframe`` that has ``column``."""
    for element in at.dataframe:
        if column in element.value.columns:
            return records(element)
    raise AssertionError(f"no table with a {column!r} column")
