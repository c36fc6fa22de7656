"""What the warehouse holds: symbols per table and a series' first and last time.

Both are index probes, never scans: distinct keys come from a "skip scan" (a recursive query
that jumps from one key to the next along the primary key), bounds from ``ORDER BY .. LIMIT 1``
on the ``(symbol, time)`` key. So they stay fast on a year of 1m candles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection, cursor

SYMBOL_TABLES = (
    "candles_1m",
    "candles_15m",
    "candles_1h",
    "candles_1d",
    "price_samples",
    "market_metrics_daily",
)
"""Tables keyed by symbol first, whose symbols the dashboard offers."""


def skip_scan(table: str, columns: Sequence[str]) -> sql.Composed:
    """A recursive CTE ``k`` holding every distinct value of the leading primary-key ``columns``
    of ``table``, found by jumping along the index from one key to the next."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    mine = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns)
    prev = sql.SQL(", ").join(sql.SQL("k.{}").format(sql.Identifier(c)) for c in columns)
    return sql.SQL(
        "WITH RECURSIVE k AS ("
        " (SELECT {cols} FROM {table} ORDER BY {cols} LIMIT 1)"
        " UNION ALL"
        " SELECT n.* FROM k CROSS JOIN LATERAL"
        " (SELECT {mine} FROM {table} t WHERE ({mine}) > ({prev}) ORDER BY {cols} LIMIT 1) n)"
    ).format(cols=cols, mine=mine, prev=prev, table=sql.Identifier(table))


def distinct_keys(cur: cursor, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Every distinct value of the leading primary-key ``columns`` of ``table``, in key order."""
    cur.execute(skip_scan(table, columns) + sql.SQL(" SELECT * FROM k"))
    return cur.fetchall()


def known_symbols(conn: connection) -> list[str]:
    """Symbols with rows in any table the dashboard shows, sorted."""
    found: set[str] = set()
    with conn.cursor() as cur:
        for table in SYMBOL_TABLES:
            found.update(row[0] for row in distinct_keys(cur, table, ["symbol"]))
    return sorted(found)


def series_bounds(
    cur: cursor,
    table: str,
    time_column: str,
    key: Mapping[str, object],
    lo: datetime | date | None = None,
    hi: datetime | date | None = None,
) -> tuple[Any, Any]:
    """First and last ``time_column`` of the series ``key`` (column -> value, the leading primary
    key columns) in ``table`` within [lo, hi); (None, None) when it has no rows there. Each is
    the column's type: a datetime, or a date for a day-keyed table."""
    time = sql.Identifier(time_column)
    params = {f"k{i}": value for i, value in enumerate(key.values())}
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(f"k{i}"))
        for i, column in enumerate(key)
    )
    if lo is not None:
        where += sql.SQL(" AND {} >= %(lo)s").format(time)
    if hi is not None:
        where += sql.SQL(" AND {} < %(hi)s").format(time)
    query = sql.SQL(
        "SELECT (SELECT {t} FROM {table} WHERE {w} ORDER BY {t} LIMIT 1),"
        " (SELECT {t} FROM {table} WHERE {w} ORDER BY {t} DESC LIMIT 1)"
    ).format(t=time, table=sql.Identifier(table), w=where)
    cur.execute(query, {**params, "lo": lo, "hi": hi})
    ((first, last),) = cur.fetchall()
    return first, last


def series_coverage(
    cur: cursor, table: str, time_column: str, symbols: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """Per symbol of ``symbols``: (first, last, rows) of its rows in ``table`` ((None, None, 0)
    when it has none). First and last are index probes; the count walks the symbol's index
    entries only."""
    query = sql.SQL(
        "SELECT s.symbol, f.t, l.t, c.n FROM unnest(%(symbols)s::text[]) AS s(symbol)"
        " LEFT JOIN LATERAL (SELECT {t} FROM {table} x WHERE x.symbol = s.symbol ORDER BY {t} LIMIT 1) f(t) ON true"
        " LEFT JOIN LATERAL (SELECT {t} FROM {table} x WHERE x.symbol = s.symbol ORDER BY {t} "
        "DESC LIMIT 1) l(t) ON true"
        " CROSS JOIN LATERAL (SELECT count(*) FROM {table} x WHERE x.symbol = s.symbol) c(n)"
    ).format(t=sql.Identifier(time_column), table=sql.Identifier(table))
    cur.execute(query, {"symbols": list(symbols)})
    return {symbol: (first, last, rows) for symbol, first, last, rows in cur.fetchall()}


def split_range(
    lo: datetime, hi: datetime, covered_from: datetime, covered_to: datetime
) -> list[tuple[bool, datetime, datetime]]:
    """[lo, hi) cut where [covered_from, covered_to) covers it: (covered, start, end) pieces in
    order, empty pieces left out. How the page queries read a summary table where it has rows
    and the finer table elsewhere."""
    inner_lo, inner_hi = max(lo, covered_from), min(hi, covered_to)
    if inner_lo >= inner_hi:
        return [(False, lo, hi)]
    pieces = [(False, lo, inner_lo), (True, inner_lo, inner_hi), (False, inner_hi, hi)]
    return [piece for piece in pieces if piece[1] < piece[2]]
