"""What each asset table holds, and the per-symbol, before-a-day slices ``crypto clear`` removes.

Shared by ``crypto audit`` (counts, bounds, missing candles, newest rows) and ``crypto clear``
(row counts, then deletes), so both agree on each table's time column and groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from psycopg2.extensions import cursor

from crypto_assets.warehouse.db import scalar

# table -> its time column (UTC timestamptz, or a date for market_metrics_daily)
TIME_COLUMN = {
    "candles_15m": "open_time",
    "candles_1m": "open_time",
    "price_samples": "sampled_at",
    "price_downsampled": "bucket_start",
    "candles_1h": "open_time",
    "candles_1d": "open_time",
    "market_metrics_daily": "day",
}
RAW_TABLES = ("candles_15m", "candles_1m", "price_samples")
DOWNSAMPLED_TABLES = ("price_downsampled", "candles_1h", "candles_1d", "market_metrics_daily")
CANDLE_STEP = {
    "candles_1m": timedelta(minutes=1),
    "candles_15m": timedelta(minutes=15),
    "candles_1h": timedelta(hours=1),
    "candles_1d": timedelta(days=1),
}


@dataclass
class SymbolStats:
    symbol: str
    rows: int
    first: datetime | date
    last: datetime | date
    missing_candles: int | None  # candle tables: slots between first and last with no candle


@dataclass
class TableReport:
    table: str
    rows: int
    symbols: list[SymbolStats] = field(default_factory=list)
    last_rows: list[dict[str, Any]] = field(default_factory=list)


def _slice(table: str, symbol: str | None, before: date | None) -> tuple[str, list[object]]:
    """WHERE clause and parameters for a symbol's rows before a UTC day (both optional)."""
    column = TIME_COLUMN[table]
    clauses: list[str] = ["true"]
    params: list[object] = []
    if symbol is not None:
        clauses.append("symbol = %s")
        params.append(symbol)
    if before is not None:
        clauses.append(
            f"{column} < %s::date"
            if column == "day"
            else f"{column} < (%s::date)::timestamp AT TIME ZONE 'UTC'"
        )
        params.append(before)
    return " AND ".join(clauses), params


def count_rows(
    cur: cursor, table: str, symbol: str | None = None, before: date | None = None
) -> int:
    where, params = _slice(table, symbol, before)
    cur.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
    return int(scalar(cur))


def table_symbols(cur: cursor, table: str) -> list[str]:
    cur.execute(f"SELECT DISTINCT symbol FROM {table}")
    return [row[0] for row in cur.fetchall()]


def delete_rows(
    cur: cursor, table: str, symbol: str | None = None, before: date | None = None
) -> int:
    where, params = _slice(table, symbol, before)
    cur.execute(f"DELETE FROM {table} WHERE {where}", params)
    return int(cur.rowcount)


def table_report(cur: cursor, table: str, last: int = 3) -> TableReport:
    """Rows in total and per symbol, first/last time, missing candles, and the newest ``last`` rows."""
    column = TIME_COLUMN[table]
    cur.execute(
        f"SELECT symbol, count(*), min({column}), max({column}) FROM {table} GROUP BY symbol ORDER BY symbol"
    )
    step = CANDLE_STEP.get(table)
    symbols = [
        SymbolStats(
            symbol,
            rows,
            first,
            last_time,
            int((last_time - first) / step) + 1 - rows if step else None,
        )
        for symbol, rows, first, last_time in cur.fetchall()
    ]
    cur.execute(f"SELECT * FROM {table} ORDER BY {column} DESC, symbol LIMIT %s", (last,))
    names = [d[0] for d in cur.description or ()]
    newest = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return TableReport(table, sum(s.rows for s in symbols), symbols, newest)
