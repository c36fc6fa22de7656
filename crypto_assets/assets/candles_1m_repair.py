"""Make windows of ``candles_1m`` equal to REST's closed 1m klines, keeping the stream's equal rows.

REST's candles are first COPYed into a temporary table (``ingest_klines`` into ``STAGING``),
then, in the caller's transaction:

1. ``compare``: the stream's closed rows in the windows against REST's (before anything is
   changed: this is the check that the stream and REST agree);
2. ``merge``: rows REST does not have are deleted (never closed, or inside an exchange outage:
   the exchange has no candle there), and every REST candle that is missing, not closed or
   different is written with ``source = 'rest'`` (``INSERT .. ON CONFLICT DO UPDATE``, so the
   collector writing the same minute at the same moment waits instead of failing the run).
   The stream's rows equal to REST's stay as they are (``source = 'stream'``);
3. ``missing_after``: REST candles still absent from the table (zero unless something is wrong;
   not asked after a merge into empty windows, whose insert count already says every REST
   candle was added).

Windows live in a temporary table too, so each step is one set-based statement.

REST can lag the stream by a few minutes in a busy market: the newest closed minutes may be in
the table (streamed) and not yet in REST's answer. ``hold_back_unserved`` ends each window at
the first of those minutes, so the merge never deletes them (nor reports them as a gap) and a
later run, once REST has them, compares and settles them.

When the run's days hold no row at all and are over (a backfill of new days: nothing the
stream wrote to compare or keep, and the collector only writes the present minutes), the merge
would add every REST candle and change nothing else, so the asset COPYs them straight into
``candles_1m`` instead (``empty_past_days``, ``copied``): one write instead of two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from psycopg2.extensions import cursor
from psycopg2.extras import execute_values

from crypto_assets.assets.kline_ingest import IngestStats
from crypto_assets.assets.partitions import day_start
from crypto_assets.binance.wire import datetime_to_ms
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, ms_to_pg
from crypto_assets.warehouse.db import scalar

STAGING = "candles_1m_rest"
_WINDOWS = "candles_1m_windows"
_COLUMNS = (*CANDLE_COLUMNS, "is_closed", "source")
_VALUES = CANDLE_COLUMNS[2:]  # what must agree: close_time .. taker_buy_quote_volume
_IN_WINDOW = (
    f"JOIN {_WINDOWS} w ON t.symbol = w.symbol AND t.open_time >= w.lo AND t.open_time < w.hi"
)
_SAMPLE = 20
# How far behind the exchange's clock REST may still be catching up: a run of candles missing
# at the end of a window and starting within this of the present is not (yet) a gap.
REST_LAG_ALLOWANCE_MS = 15 * 60_000

Window = tuple[str, int, int]  # symbol, start ms, end ms (exclusive)
# A day counts as over for the straight COPY this long after its end: the collector writes the
# minute that just closed a moment after the minute ends.
_SETTLED_MS = 3_600_000


def _tuple(alias: str) -> str:
    return "(" + ", ".join(f"{alias}.{column}" for column in _VALUES) + ")"


def hold_back_unserved(
    results: Sequence[IngestStats], rest_now_ms: int, step_ms: int
) -> tuple[list[IngestStats], int]:
    """Each window ended before a trailing run of candles REST lacks that starts within
    ``REST_LAG_ALLOWANCE_MS`` of ``rest_now_ms`` (REST is still catching up there); returns
    the windows and how many minutes were held back for a later run."""
    held_back, out = 0, []
    for stats in results:
        trailing = stats.gaps[-1] if stats.gaps else None
        if (
            trailing is not None
            and trailing[0] + trailing[1] * step_ms >= stats.end_ms
            and trailing[0] >= rest_now_ms - REST_LAG_ALLOWANCE_MS
        ):
            held_back += trailing[1]
            stats = replace(stats, end_ms=trailing[0], gaps=stats.gaps[:-1])
        out.append(stats)
    return out, held_back


def empty_past_days(cur: cursor, ranges: dict[str, list[tuple[date, date]]], now_ms: int) -> bool:
    """Whether every day of ``ranges`` (per symbol, inclusive) ended an hour before ``now_ms``
    and ``candles_1m`` holds no row in any of them."""
    spans = [
        (
            symbol,
            datetime_to_ms(day_start(first)),
            datetime_to_ms(day_start(last + timedelta(days=1))),
        )
        for symbol, runs in ranges.items()
        for first, last in runs
    ]
    if not spans or any(hi + _SETTLED_MS > now_ms for _, _, hi in spans):
        return False
    for symbol, lo, hi in spans:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM candles_1m WHERE symbol = %s AND open_time >= "
            "%s::timestamptz AND open_time < %s::timestamptz)",
            (symbol, ms_to_pg(lo), ms_to_pg(hi)),
        )
        if scalar(cur):
            return False
    return True


def create_staging(cur: cursor) -> None:
    """The temporary tables for one transaction (dropped at commit)."""
    cur.execute(
        f"CREATE TEMP TABLE {STAGING} (LIKE candles_1m INCLUDING DEFAULTS) ON COMMIT DROP;"
        f" CREATE TEMP TABLE {_WINDOWS} (symbol text, lo timestamptz, hi timestamptz) ON COMMIT DROP"
    )


def set_windows(cur: cursor, windows: Sequence[Window]) -> None:
    execute_values(
        cur,
        f"INSERT INTO {_WINDOWS} VALUES %s",
        [(s, ms_to_pg(lo), ms_to_pg(hi)) for s, lo, hi in windows],
    )


@dataclass(frozen=True)
class Comparison:
    """The stream's closed rows in the windows, against REST's candles for the same minutes."""

    compared: int
    mismatch_count: int
    examples: list[
        dict[str, Any]
    ]  # the first few: symbol, open_time, stream and REST values (None: REST has none)

    @staticmethod
    def combine(parts: Sequence[Comparison]) -> Comparison:
        """One comparison for a run's symbols, each compared in its own transaction."""
        examples = [e for part in parts for e in part.examples][:_SAMPLE]
        return Comparison(
            sum(p.compared for p in parts), sum(p.mismatch_count for p in parts), examples
        )


def compare(cur: cursor) -> Comparison:
    """How many closed stream rows there are, and which differ from REST (or REST lacks)."""
    cur.execute(
        f"SELECT count(*) FROM candles_1m t {_IN_WINDOW} WHERE t.source = 'stream' AND t.is_closed"
    )
    compared = scalar(cur)
    cur.execute(
        f"SELECT t.symbol, t.open_time, {_tuple('t')}::text,"
        f" CASE WHEN r.symbol IS NULL THEN NULL ELSE {_tuple('r')}::text END, count(*) OVER ()"
        f" FROM candles_1m t {_IN_WINDOW} LEFT JOIN {STAGING} r ON r.symbol = t.symbol AND r.open_time = t.open_time"
        f" WHERE t.source = 'stream' AND t.is_closed AND (r.symbol IS NULL OR {_tuple('t')} IS "
        f"DISTINCT FROM {_tuple('r')})"
        f" ORDER BY t.symbol, t.open_time LIMIT {_SAMPLE}"
    )
    rows = cur.fetchall()
    examples = [
        {"symbol": s, "open_time": t.isoformat(), "stream": mine, "rest": theirs}
        for s, t, mine, theirs, _ in rows
    ]
    return Comparison(compared, rows[0][4] if rows else 0, examples)


@dataclass(frozen=True)
class MergeCounts:
    """What the merge changed: REST candles added where none was, rows replaced, rows removed.

    ``into_empty_windows``: the windows held no row before (a backfill of new days), so there
    was nothing to remove and every REST candle was added, as the insert's count shows.
    """

    filled: int
    replaced: int
    removed: int
    into_empty_windows: bool = False


def copied(results: Iterable[IngestStats]) -> MergeCounts:
    """The counts of REST's candles COPYed straight into empty windows (``IngestStats`` results)."""
    return MergeCounts(
        filled=sum(stats.rows for stats in results), replaced=0, removed=0, into_empty_windows=True
    )


def merge(cur: cursor) -> MergeCounts:
    """Make the windows equal REST's candles (see the module docstring).

    Takes the per-symbol lock a straight COPY holds (``delete_window``'s), in symbol order, so a
    merge and a straight COPY into the same days take turns.
    """
    cur.execute(
        f"SELECT pg_advisory_xact_lock(hashtext('candles_1m:' || symbol)) FROM"
        f" (SELECT DISTINCT symbol FROM {_WINDOWS} ORDER BY symbol) s"
    )
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM candles_1m t {_IN_WINDOW})")
    empty = not scalar(cur)
    removed = 0
    if not empty:  # rows REST does not have can only be there when something is
        cur.execute(
            f"DELETE FROM candles_1m t USING {_WINDOWS} w WHERE t.symbol = w.symbol AND "
            "t.open_time >= w.lo AND t.open_time < w.hi"
            f" AND NOT EXISTS (SELECT 1 FROM {STAGING} r WHERE r.symbol = t.symbol AND r.open_time = t.open_time)"
        )
        removed = cur.rowcount
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _COLUMNS[2:])
    cur.execute(
        f"WITH written AS (INSERT INTO candles_1m AS t ({', '.join(_COLUMNS)}) SELECT "
        f"{', '.join(_COLUMNS)} FROM {STAGING}"
        f" ON CONFLICT (symbol, open_time) DO UPDATE SET {updates}"
        f" WHERE NOT t.is_closed OR {_tuple('t')} IS DISTINCT FROM {_tuple('EXCLUDED')}"
        " RETURNING xmax = 0 AS added) SELECT count(*) FILTER (WHERE added), count(*) FROM written"
    )
    ((filled, written),) = cur.fetchall()
    return MergeCounts(
        filled=filled,
        replaced=written - filled,
        removed=removed,
        into_empty_windows=empty and filled == written,
    )


def missing_after(cur: cursor) -> list[str]:
    """REST candles not present and closed in the table after the merge ('SYMBOL 2025-01-01T00:00')."""
    cur.execute(
        f"SELECT r.symbol, r.open_time FROM {STAGING} r WHERE NOT EXISTS (SELECT 1 FROM candles_1m t"
        " WHERE t.symbol = r.symbol AND t.open_time = r.open_time AND t.is_closed) ORDER BY 1, 2"
    )
    return [f"{symbol} {open_time:%Y-%m-%dT%H:%M}" for symbol, open_time in cur.fetchall()]
