"""Writes a batch of stream rows and the heartbeats in one transaction, through COPY.

* ``candles_1m``: COPYed into a temporary staging table, then merged with
  ``INSERT .. ON CONFLICT DO UPDATE .. WHERE NOT is_closed``: a forming row is updated in place
  until its final push; a closed row, the stream's or REST's (the ``candles_1m`` asset's), is
  never overwritten, so values from REST win;
* ``price_samples``: only ever inserted, so COPYed straight into the table (about half the
  cost of staging and merging). When some of them are there already (a batch retried after an
  unclear failure: the commit happened, its acknowledgement was lost), the COPY is undone and
  the rows go through a staging table and ``ON CONFLICT DO NOTHING`` instead, so nothing is
  duplicated.

No row can poison the others. When the database refuses the rows' data (SQLSTATE class 22,
data exception, or 23, integrity violation), the batch is cut in halves under savepoints until
the refused rows stand alone: those are left out and returned with the reason, everything else
is written in the same transaction (a bad row among n costs about 2 log2(n) more statements).
Any other failure (connection lost, server shutting down, a missing table, a deadlock) is not
the rows' fault: it raises ``WriteFailed`` and the caller keeps the batch and retries it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import psycopg2
import psycopg2.errorcodes
import psycopg2.errors
from psycopg2.extensions import connection, cursor

from crypto_assets.binance.stream import ConnectionStats
from crypto_assets.stream import heartbeat
from crypto_assets.stream.buffer import Batch
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, copy_lines
from crypto_assets.warehouse.db import DatabaseUnavailableError, connect

_CANDLE_COLUMNS = (*CANDLE_COLUMNS, "is_closed", "source")
_SAMPLE_COLUMNS = ("symbol", "sampled_at", "price")
_UPDATED = ", ".join(f"{column} = EXCLUDED.{column}" for column in _CANDLE_COLUMNS[2:])
_SETUP = """
    CREATE TEMP TABLE IF NOT EXISTS stream_candles (LIKE candles_1m INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS stream_samples (LIKE price_samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
"""
_MERGE_CANDLES = (
    f"INSERT INTO candles_1m ({', '.join(_CANDLE_COLUMNS)}) SELECT {', '.join(_CANDLE_COLUMNS)} FROM stream_candles"
    f" ON CONFLICT (symbol, open_time) DO UPDATE SET {_UPDATED} WHERE NOT candles_1m.is_closed"
)
_MERGE_SAMPLES = (
    "INSERT INTO price_samples (symbol, sampled_at, price) SELECT symbol, sampled_at, price FROM stream_samples"
    " ON CONFLICT (symbol, sampled_at) DO NOTHING"
)


class _Rows(NamedTuple):
    """How one kind of row is written: COPY into ``stage`` and run ``merge``; or, with ``table``,
    COPY straight into it and stage only when some rows are there already."""

    stage: str
    columns: tuple[str, ...]
    merge: str
    table: str | None = None


_CANDLES = _Rows("stream_candles", _CANDLE_COLUMNS, _MERGE_CANDLES)
_SAMPLES = _Rows("stream_samples", _SAMPLE_COLUMNS, _MERGE_SAMPLES, table="price_samples")
_ROWS_AT_FAULT = ("22", "23")  # SQLSTATE classes: data exception, integrity constraint violation


class WriteFailed(RuntimeError):
    """The write failed for a reason that is not the rows' (the database is away, or failing):
    retry the same batch later."""


class RefusedRow(NamedTuple):
    """A row the database refused: ``reason`` is the SQLSTATE's name (``check_violation``),
    ``message`` the server's first line."""

    symbol: str
    reason: str
    message: str


class WarehouseWriter:
    """One database connection, reopened after failures (used from one thread at a time)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._conn: connection | None = None

    def write(self, batch: Batch, heartbeats: Sequence[ConnectionStats] = ()) -> list[RefusedRow]:
        """Commit the batch and heartbeats together, leaving out (and returning) the rows the
        database refuses; ``WriteFailed`` when it cannot be written for any other reason."""
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                refused = _write_rows(cur, _CANDLES, list(batch.candles.values()))
                refused += _write_rows(cur, _SAMPLES, batch.samples)
                if heartbeats:
                    heartbeat.upsert(cur, heartbeats)
            conn.commit()
        except psycopg2.Error as err:
            self._abandon(conn, err)
            raise WriteFailed(_first_line(err)) from None
        return refused

    def query(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction (startup bookkeeping); ``WriteFailed`` when away."""
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
            conn.commit()
            return rows
        except psycopg2.Error as err:
            self._abandon(conn, err)
            raise WriteFailed(_first_line(err)) from None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
            self._conn = None

    def _abandon(self, conn: connection, err: psycopg2.Error) -> None:
        """After a failure: drop a broken connection, roll back a working one."""
        if isinstance(err, (psycopg2.OperationalError, psycopg2.InterfaceError)) or conn.closed:
            self.close()
            return
        try:
            conn.rollback()
        except psycopg2.Error:
            self.close()

    def _connection(self) -> connection:
        if self._conn is None or self._conn.closed:
            try:
                conn = connect(self._url, attempts=1, application_name="crypto-stream")
            except DatabaseUnavailableError as err:
                raise WriteFailed(str(err)) from None
            try:
                with conn.cursor() as cur:
                    cur.execute(_SETUP)
                conn.commit()
            except psycopg2.Error as err:
                conn.close()
                raise WriteFailed(_first_line(err)) from None
            self._conn = conn
        return self._conn


def _write_rows(
    cur: cursor, rows: _Rows, lines: list[str], halving: bool = False
) -> list[RefusedRow]:
    """Write ``lines`` under a savepoint; rows at fault are found by halving and returned, the
    rest written."""
    if not lines:
        return []
    cur.execute("SAVEPOINT stream_rows")
    try:
        text = "".join(lines)
        try:
            if rows.table is None:
                _stage_and_merge(cur, rows, text, halving)
            else:
                copy_lines(cur, rows.table, rows.columns, text)
        except psycopg2.errors.UniqueViolation:
            if rows.table is None:
                raise
            cur.execute("ROLLBACK TO SAVEPOINT stream_rows")  # some are there already
            _stage_and_merge(cur, rows, text, halving)
    except psycopg2.Error as err:
        code = err.pgcode or ""
        if code[:2] not in _ROWS_AT_FAULT:
            raise
        cur.execute("ROLLBACK TO SAVEPOINT stream_rows")
        cur.execute("RELEASE SAVEPOINT stream_rows")
        if len(lines) == 1:
            reason = (psycopg2.errorcodes.lookup(code) or code).lower()
            return [RefusedRow(lines[0].partition("\t")[0], reason, _first_line(err))]
        half = len(lines) // 2
        return _write_rows(cur, rows, lines[:half], halving=True) + _write_rows(
            cur, rows, lines[half:], halving=True
        )
    cur.execute("RELEASE SAVEPOINT stream_rows")
    return []


def _stage_and_merge(cur: cursor, rows: _Rows, text: str, halving: bool) -> None:
    copy_lines(cur, rows.stage, rows.columns, text)
    cur.execute(rows.merge)
    if halving:  # the next half starts from an empty stage (commit empties it otherwise)
        cur.execute(f"DELETE FROM {rows.stage}")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
