"""Data health: per table its size, span, freshness and missing candles per series; per asset
the latest materialization and check results from Dagster, linked into the Dagster UI."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st
from ui import dagster, data, formats, notices
from ui.state import UrlState

from crypto_assets.warehouse.queries.buckets import describe
from crypto_assets.warehouse.queries.health import TableHealth

WINDOWS = (timedelta(days=1), timedelta(days=7), timedelta(days=30))


def _time(label: str):
    return st.column_config.DatetimeColumn(f"{label} (UTC)", format="YYYY-MM-DD HH:mm")


_CHECK_RESULTS = {
    "SUCCEEDED": "passed",
    "FAILED": "failed",
    "EXECUTION_FAILED": "errored",
    "IN_PROGRESS": "running",
    "SKIPPED": "skipped",
    "NOT_RUN": "not run",
}

st.title("Data health")
st.caption(
    "What each table holds, how fresh it is, what is missing, and what Dagster last did. All times UTC."
)
url = data.database_url()
page = UrlState("health")
window = page.select(
    "window", "Count missing candles over the last", WINDOWS, WINDOWS[1], fmt=describe, radio=True
)
page.publish()
page.report()
view = notices.load(data.health_view, url, window)


def status(table: TableHealth) -> str:
    if table.fresh is None:
        return "empty"
    return "fresh" if table.fresh else f"stale (older than {formats.age(table.spec.fresh_within)})"


overview = pl.DataFrame(
    {
        "table": [dagster.asset_link(t.spec.table) for t in view.tables],
        "rows": [f"{t.rows:,}" if t.rows_exact else f"≈{t.rows:,}" for t in view.tables],
        "first": [t.first for t in view.tables],
        "last": [t.last for t in view.tables],
        "age": [formats.age(t.age) for t in view.tables],
        "status": [status(t) for t in view.tables],
        "missing": [t.missing if t.spec.step or t.spec.step_in_key else None for t in view.tables],
        "fill": [t.spec.fill for t in view.tables],
    },
    schema_overrides={
        "first": pl.Datetime("us", "UTC"),
        "last": pl.Datetime("us", "UTC"),
        "missing": pl.Int64,
    },
)
st.dataframe(
    overview,
    hide_index=True,
    column_config={
        "table": st.column_config.LinkColumn(
            "Table (opens the asset in Dagster)", display_text=r".*/assets/(.*)$"
        ),
        "rows": "Rows",
        "first": _time("First"),
        "last": _time("Last"),
        "age": "Last is",
        "status": "Freshness",
        "missing": st.column_config.NumberColumn(f"Missing in last {describe(window)}"),
        "fill": "Filled by",
    },
)
if all(t.fresh is None for t in view.tables):
    notices.empty(
        "The warehouse is empty.",
        [
            "make demo   # the platform against the bundled simulator",
            notices.backfill(
                "candles_15m", None, notices.today() - window + timedelta(days=1), notices.today()
            ),
        ],
    )

st.subheader(f"Missing per series (last {describe(window)})")
for table in view.tables:
    if table.series.is_empty():
        continue
    gaps = table.missing
    label = f"{table.spec.table}: {table.series.height} series" + (
        f", {gaps:,} missing" if gaps else ""
    )
    with st.expander(label, expanded=bool(gaps)):
        st.dataframe(
            table.series.drop("symbol"),
            hide_index=True,
            column_config={
                "series": "Series",
                "first": _time("First"),
                "last": _time("Last"),
                "rows_in_window": "Rows in window",
                "expected": "Expected",
                "missing": "Missing",
            },
        )

st.subheader("Dagster: latest materializations and checks")
try:
    assets = data.dagster_status(dagster.graphql_url())
except dagster.DagsterUnavailable as err:
    st.info(
        f"Materializations and check results are not shown: {err}. Start Dagster with `make up`; "
        "set DAGSTER_GRAPHQL_URL if it runs elsewhere.",
        icon=":material/link_off:",
    )
    st.stop()
st.dataframe(
    pl.DataFrame(
        {
            "asset": [dagster.asset_link(a.asset) for a in assets],
            "partitions": [
                "—"
                if a.partitions is None
                else f"{a.partitions[0]:,} / {a.partitions[1]:,}"
                + (f" ({a.partitions[2]:,} failed)" if a.partitions[2] else "")
                for a in assets
            ],
            "materialized": [a.materialized_at for a in assets],
            "partition": [a.partition for a in assets],
            "run": [dagster.run_link(a.run_id) if a.run_id else None for a in assets],
        },
        schema_overrides={
            "materialized": pl.Datetime("us", "UTC"),
            "partition": pl.String,
            "run": pl.String,
        },
    ),
    hide_index=True,
    column_config={
        "asset": st.column_config.LinkColumn("Asset", display_text=r".*/assets/(.*)$"),
        "partitions": "Partitions materialized",
        "materialized": _time("Materialized"),
        "partition": "Latest partition",
        "run": st.column_config.LinkColumn("Run", display_text=r".*/runs/(.{8}).*$"),
    },
)
checks = [c for a in assets for c in a.checks]
if checks:
    st.dataframe(
        pl.DataFrame(
            {
                "check": [dagster.checks_link(c.asset) + f"#{c.name}" for c in checks],
                "asset": [c.asset for c in checks],
                "result": [_CHECK_RESULTS.get(c.status, c.status) for c in checks],
                "severity": [c.severity if c.status == "FAILED" else None for c in checks],
                "at": [c.at for c in checks],
                "detail": [c.description for c in checks],
            },
            schema_overrides={
                "severity": pl.String,
                "at": pl.Datetime("us", "UTC"),
                "detail": pl.String,
            },
        ),
        hide_index=True,
        column_config={
            "check": st.column_config.LinkColumn("Check", display_text=r".*#(.*)$"),
            "asset": "Asset",
            "result": "Latest result",
            "severity": "Severity",
            "at": _time("At"),
            "detail": "Detail",
        },
    )
