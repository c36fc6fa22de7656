"""The one lock every writer of a table's symbol takes: asset runs, the day merge, ``crypto clear``.

A transaction-scoped advisory lock on ``(table, symbol)``: two runs replacing the same partition
(a UI backfill beside the automation), or a clear during a run, take turns instead of the second
failing on the first's uncommitted rows (``UniqueViolation``) or deleting under it. Callers lock
symbols in sorted order, so two writers never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg2.extensions import cursor


def lock_symbols(cur: cursor, table: str, symbols: Iterable[str]) -> None:
    """Take (and hold until commit) the write lock of each of ``table``'s symbols, in sorted order."""
    for symbol in sorted(set(symbols)):
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{table}:{symbol}",))
