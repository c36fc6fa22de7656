"""What the catch-up machinery remembers in the warehouse, beside Dagster's partition status.

- ``cleared_floors``: ``crypto clear --before DAY`` removes days on purpose; the sensors do not
  refill a table's days below its floor (per symbol, or ``'*'`` for every symbol), and ``crypto
  audit`` reports them as cleared, not missing. ``crypto backfill`` ignores floors.
- ``partition_retries``: failed partitions and when each may be tried again (backoff 1 min,
  10 min, 1 h, then daily), so a failure is retried without hammering the exchange, and the
  attempts can be read by ``crypto audit``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from psycopg2.extensions import cursor
from psycopg2.extras import execute_values

ALL_SYMBOLS = "*"
BACKOFF = (timedelta(minutes=1), timedelta(minutes=10), timedelta(hours=1), timedelta(days=1))


def backoff_after(attempts: int) -> timedelta:
    """Wait before the next try, after ``attempts`` tries (0: the first failure was just seen)."""
    return BACKOFF[min(attempts, len(BACKOFF) - 1)]


def raise_floor(cur: cursor, table: str, symbol: str | None, before: date) -> None:
    """Remember that ``table``'s days before ``before`` were cleared on purpose (floors only rise)."""
    cur.execute(
        "INSERT INTO cleared_floors (table_name, symbol, cleared_before) VALUES (%s, %s, %s)"
        " ON CONFLICT (table_name, symbol) DO UPDATE SET cleared_before = GREATEST(cleared_floors.cleared_before,"
        " EXCLUDED.cleared_before), cleared_at = now()",
        (table, symbol or ALL_SYMBOLS, before),
    )


def floors(cur: cursor, table: str) -> dict[str, date]:
    """Per symbol (``'*'``: every symbol), the first day the sensors may refill."""
    cur.execute("SELECT symbol, cleared_before FROM cleared_floors WHERE table_name = %s", (table,))
    return dict(cur.fetchall())


def first_refill_days(
    table_floors: dict[str, date], symbols: Sequence[str], history_start: date
) -> dict[str, date]:
    """Per symbol, the first day the sensors keep filled: ``history_start``, or the symbol's
    (or every symbol's) cleared floor when that is later."""
    return {
        symbol: max(
            d
            for d in (history_start, table_floors.get(symbol), table_floors.get(ALL_SYMBOLS))
            if d is not None
        )
        for symbol in symbols
    }


@dataclass(frozen=True)
class Retry:
    """A failed partition's retry state."""

    attempts: int  # retries already requested
    next_attempt_at: datetime


def retries(cur: cursor, asset: str) -> dict[tuple[date, str], Retry]:
    cur.execute(
        "SELECT day, symbol, attempts, next_attempt_at FROM partition_retries WHERE asset = %s",
        (asset,),
    )
    return {(day, symbol): Retry(attempts, at) for day, symbol, attempts, at in cur.fetchall()}


def save_retries(
    cur: cursor,
    asset: str,
    changed: dict[tuple[date, str], Retry],
    resolved: Iterable[tuple[date, str]],
) -> None:
    """Upsert the changed retry states and forget the partitions that are no longer failed."""
    gone = list(resolved)
    if gone:
        cur.execute(
            "DELETE FROM partition_retries WHERE asset = %s"
            " AND (day, symbol) IN (SELECT * FROM unnest(%s::date[], %s::text[]))",
            (asset, [d for d, _ in gone], [s for _, s in gone]),
        )
    if changed:
        execute_values(
            cur,
            "INSERT INTO partition_retries (asset, symbol, day, attempts, next_attempt_at) VALUES %s"
            " ON CONFLICT (asset, symbol, day) DO UPDATE SET attempts = EXCLUDED.attempts,"
            " next_attempt_at = EXCLUDED.next_attempt_at, updated_at = now()",
            [
                (asset, symbol, day, r.attempts, r.next_attempt_at)
                for (day, symbol), r in changed.items()
            ],
        )
