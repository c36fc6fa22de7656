"""What the API should answer, read straight from the tables by the owner, independently of
the API's code: column names and types from ``information_schema``, decimals as PostgreSQL's
own text of the stored ``numeric``, times formatted here."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import UTC, date, datetime, timedelta

import psycopg2
from psycopg2 import sql

from crypto_assets.warehouse.queries.live import LAG_HEALTHY, LAG_STALLED

WIDTH_LABELS = {timedelta(minutes=1): "1m", timedelta(minutes=5): "5m"}


def iso(moment: datetime) -> str:
    """2025-03-08T00:14:59.999Z"""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def column_types(url: str, table: str) -> dict[str, str]:
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            (table,),
        )
        return dict(cur.fetchall())


def table_rows(url: str, table: str, where: str, params: dict, order: str) -> list[dict]:
    """The rows as stored: numeric as its text, everything else as psycopg2 reads it."""
    types = column_types(url, table)
    select = sql.SQL(", ").join(
        sql.SQL("{}::text").format(sql.Identifier(c)) if t == "numeric" else sql.Identifier(c)
        for c, t in types.items()
    )
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT {} FROM {} WHERE " + where + " ORDER BY " + order).format(
                select, sql.Identifier(table)
            ),
            params,
        )
        return [dict(zip(types, row, strict=True)) for row in cur.fetchall()]


def as_json(row: dict) -> dict:
    """A stored row as the API's JSON should show it."""

    def value(v):
        if isinstance(v, datetime):
            return iso(v)
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, timedelta):
            return WIDTH_LABELS[v]
        return v

    return {k: value(v) for k, v in row.items()}


def as_csv(row: dict) -> dict:
    """The same row as CSV fields (text; booleans true/false; null empty)."""

    def text(v):
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    return {k: text(v) for k, v in as_json(row).items()}


def read_csv(body: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(body))
    return list(reader.fieldnames or []), list(reader)


def expected_state(lag_s: float) -> str:
    """The collector's state for its worst lag, by the documented thresholds."""
    lag = timedelta(seconds=lag_s)
    return "healthy" if lag <= LAG_HEALTHY else "lagging" if lag <= LAG_STALLED else "stalled"
