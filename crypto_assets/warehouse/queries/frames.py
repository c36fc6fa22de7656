"""Query results as typed polars frames (the same columns and types whether empty or not)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl
from polars.datatypes import DataType, DataTypeClass
from psycopg2 import sql
from psycopg2.extensions import cursor

TIME = pl.Datetime("us", "UTC")

ColumnTypes = Mapping[str, DataType | DataTypeClass]
"""A frame's columns and their polars types, in select order."""

Params = Sequence[object] | Mapping[str, object]
"""A statement's parameters: positional (``%s``) or named (``%(name)s``)."""


def fetch_frame(
    cur: cursor, query: str | sql.Composable, params: Params | None, schema: ColumnTypes
) -> pl.DataFrame:
    """Run ``query`` and return its rows as a frame with ``schema`` (names in select order)."""
    cur.execute(query, params)
    return pl.DataFrame(cur.fetchall(), schema=schema, orient="row")
