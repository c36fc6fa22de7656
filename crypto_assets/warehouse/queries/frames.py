"""Query results as typed polars frames (the same columns and types whether empty or not)."""

from __future__ import annotations

import polars as pl
from psycopg2.extensions import cursor

TIME = pl.Datetime("us", "UTC")


def fetch_frame(cur: cursor, query, params, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run ``query`` and return its rows as a frame with ``schema`` (names in select order)."""
    cur.execute(query, params)
    return pl.DataFrame(cur.fetchall(), schema=schema, orient="row")
