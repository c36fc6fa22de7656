"""Create a hypertable's chunks for a time span ahead of writers that load it at once.

TimescaleDB creates a chunk inside the transaction of the first row that falls in it, and
every other transaction writing into that chunk waits until the creator commits: two symbols
loading the same days in their own transactions would take turns for the whole load. So a run
that writes several symbols at once first creates the chunks of its span in a short
transaction of its own: it inserts one placeholder candle per chunk (symbol ``''``, which no
exchange symbol is) and deletes them before committing. No other transaction ever sees a
placeholder; the chunks stay, empty until the load fills them (as after a load that fails).
Without TimescaleDB (a plain table) there is nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping

from psycopg2.extensions import cursor

from crypto_assets.warehouse.candles import CANDLE_COLUMNS, ms_to_pg

PLACEHOLDER_SYMBOL = ""


def chunk_interval(cur: cursor, table: str) -> str | None:
    """The time interval of ``table``'s chunks, or None when it is not a hypertable."""
    cur.execute("SELECT to_regclass('timescaledb_information.dimensions') IS NOT NULL")
    exists = cur.fetchone()
    if exists is None or not exists[0]:
        return None
    cur.execute(
        "SELECT time_interval::text FROM timescaledb_information.dimensions"
        " WHERE hypertable_name = %s AND dimension_number = 1",
        (table,),
    )
    row = cur.fetchone()
    return str(row[0]) if row else None


def create_chunks(
    cur: cursor, table: str, start_ms: int, end_ms: int, constants: Mapping[str, str] | None = None
) -> int:
    """Make sure candle table ``table`` has every chunk of [start_ms, end_ms); returns how many
    placeholders it took (0 for a plain table). ``constants`` fills the table's columns beyond
    the candle's (``candles_1m``: source). Commit right after, before the load starts."""
    interval = chunk_interval(cur, table)
    if interval is None or end_ms <= start_ms:
        return 0
    extra = dict(constants or {})
    columns = ", ".join((*CANDLE_COLUMNS, *extra))
    values = ", ".join(
        [
            "%(symbol)s, t, t",
            *["0"] * (len(CANDLE_COLUMNS) - 3),
            *(f"%({name})s" for name in extra),
        ]
    )
    cur.execute(
        f"INSERT INTO {table} ({columns}) SELECT {values} FROM"
        " (SELECT generate_series(%(lo)s::timestamptz, %(hi)s::timestamptz, %(step)s::interval)"
        " UNION SELECT %(hi)s::timestamptz) AS points(t)",
        {
            "symbol": PLACEHOLDER_SYMBOL,
            "lo": ms_to_pg(start_ms),
            "hi": ms_to_pg(end_ms - 1),
            "step": interval,
            **extra,
        },
    )
    placed = int(cur.rowcount)
    cur.execute(f"DELETE FROM {table} WHERE symbol = %s", (PLACEHOLDER_SYMBOL,))
    return placed
