"""Writes a batch of stream rows and the heartbeats in one transaction, through COPY.

Rows are COPYed into temporary staging tables, then merged:

* ``candles_1m``: ``INSERT .. ON CONFLICT DO UPDATE .. WHERE NOT is_closed``: a forming row is
  updated in place until its final push; a closed row, the stream's or REST's (the
  ``candles_1m`` asset's), is never overwritten, so values from REST win;
* ``price_samples``: ``ON CONFLICT DO NOTHING``, so a batch retried after an unclear failure
  (the commit happened, its acknowledgement was lost) never duplicates.

A lost connection raises ``WriteFailed`` (the caller keeps the batch and retries); any other
database error means the batch itself is bad: it is rolled back, logged and counted, never
retried, so one bad row cannot wedge the stream.
"""

from __future__ import annotations

import logging
from typing import Sequence

import psycopg2

from crypto_assets.binance.stream import ConnectionStats
from crypto_assets.stream import heartbeat
from crypto_assets.stream.buffer import Batch
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, copy_lines
from crypto_assets.warehouse.db import DatabaseUnavailableError, connect

_log = logging.getLogger(__name__)
_CANDLE_COLUMNS = (*CANDLE_COLUMNS, "is_closed", "source")
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


class WriteFailed(RuntimeError):
    """The database could not be reached or lost the connection: retry the same batch later."""


class WarehouseWriter:
    """One database connection, reopened after failures (used from one thread at a time)."""

    def __init__(self, database_url: str):
        self._url = database_url
        self._conn = None
        self.rejected_rows = 0

    def write(self, batch: Batch, heartbeats: Sequence[ConnectionStats] = ()) -> None:
        """Commit the batch and heartbeats together; ``WriteFailed`` when the database is away."""
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                if batch.candles:
                    copy_lines(cur, "stream_candles", _CANDLE_COLUMNS, "".join(batch.candles.values()))
                    cur.execute(_MERGE_CANDLES)
                if batch.samples:
                    copy_lines(cur, "stream_samples", ("symbol", "sampled_at", "price"), "".join(batch.samples))
                    cur.execute(_MERGE_SAMPLES)
                if heartbeats:
                    heartbeat.upsert(cur, heartbeats)
            conn.commit()
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as err:
            self.close()
            raise WriteFailed(_first_line(err)) from None
        except psycopg2.Error as err:
            conn.rollback()
            self.rejected_rows += len(batch)
            _log.error("the database rejected a batch of %d rows (not retried): %s", len(batch), _first_line(err))

    def query(self, sql: str, params=None) -> list[tuple]:
        """Run one statement in its own transaction (startup bookkeeping); ``WriteFailed`` when away."""
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
            conn.commit()
            return rows
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as err:
            self.close()
            raise WriteFailed(_first_line(err)) from None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None

    def _connection(self):
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


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
