"""Each partition of a multi-partition run gets its own truth: metadata, and success or failure.

A run covers many day x symbol partitions. Dagster would stamp the run's metadata on every one of
them; instead the assets measure each partition in the table after writing (``table_stats``:
rows and first/last time of that symbol's day) and attach it to that partition alone. When some
symbols failed (not trading, exchange errors), the partitions that succeeded are still recorded
as materialized and the run fails naming the symbols and why (``finish``), so Dagster shows
exactly the failed partitions as failed and the catch-up sensor retries only those.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.candle_checks import windows_clause
from crypto_assets.assets.partition_metadata import add_partition_metadata
from crypto_assets.assets.partitions import partition_key

Window = tuple[str, int, int]  # symbol, start ms, end ms (exclusive)


def table_stats(
    cur: cursor,
    table: str,
    time_column: str,
    windows: Sequence[Window],
    extra: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per partition key inside the windows: rows, first and last time in ``table`` (UTC days).

    ``extra`` adds named SQL aggregates (e.g. ``{"rows_from_stream": "count(*) FILTER (WHERE
    source = 'stream')"}``). ``time_column`` may be a ``date`` column (market_metrics_daily).
    The windows are disjoint (a run's day ranges).
    """
    if not windows:
        return {}
    extra = dict(extra or {})
    with_clause, params = windows_clause(windows)
    aggregates = f"count(*) AS n, min(t.{time_column}), max(t.{time_column})" + "".join(
        f", {sql}" for sql in extra.values()
    )
    if time_column == "day":
        cur.execute(
            f"{with_clause} SELECT t.symbol, t.day, {aggregates} FROM {table} t JOIN w"
            " ON t.symbol = w.symbol AND t.day >= (w.lo AT TIME ZONE 'UTC')::date"
            " AND t.day < (w.hi AT TIME ZONE 'UTC')::date GROUP BY 1, 2",
            params,
        )
    else:  # one index range scan per UTC day: no sort of the whole window to group it by day
        cur.execute(
            f"{with_clause}, d AS (SELECT w.symbol, greatest(g, w.lo) AS lo,"
            " least(g + interval '24 hours', w.hi) AS hi, (g AT TIME ZONE 'UTC')::date AS day"
            " FROM w, generate_series(date_trunc('day', w.lo, 'UTC'), w.hi - interval '1 microsecond',"
            " interval '24 hours') g)"
            f" SELECT d.symbol, d.day, s.* FROM d CROSS JOIN LATERAL (SELECT {aggregates}"
            f" FROM {table} t WHERE t.symbol = d.symbol AND t.{time_column} >= d.lo"
            f" AND t.{time_column} < d.hi) s WHERE s.n > 0",
            params,
        )
    stats = {}
    for symbol, day_value, rows, first, last, *more in cur.fetchall():
        stats[str(partition_key(day_value, symbol))] = {
            "rows": rows,
            "first_time": _iso(first),
            "last_time": _iso(last),
            **dict(zip(extra, more, strict=True)),
        }
    return stats


def _iso(value: datetime | date) -> str:
    return value.isoformat()


def empty_stats(extra_keys: Sequence[str] = ()) -> dict[str, Any]:
    """What a partition with no rows reports."""
    return {"rows": 0, "first_time": "none", "last_time": "none", **dict.fromkeys(extra_keys, 0)}


def finish(
    context: dg.AssetExecutionContext,
    metadata: Mapping[str, dict[str, Any]],
    failures: Mapping[str, str],
    check_results: Sequence[dg.AssetCheckResult] = (),
) -> Iterator[dg.MaterializeResult[None] | dg.AssetMaterialization]:
    """Record each partition with its own metadata; fail only the partitions of failed symbols.

    ``metadata`` holds the succeeded partitions (key -> metadata), ``failures`` symbol -> reason.
    """
    asset_key = context.asset_key
    if not failures:
        add_partition_metadata(context, metadata)
        yield dg.MaterializeResult(check_results=list(check_results))
        return
    for key, entry in metadata.items():
        yield dg.AssetMaterialization(asset_key=asset_key, partition=key, metadata=entry)
    reasons = "; ".join(f"{symbol}: {reason}" for symbol, reason in sorted(failures.items()))
    raise dg.Failure(
        description=(
            f"{len(failures)} symbol(s) failed, their partitions are left failed ({reasons}); "
            f"{len(metadata)} partition(s) of the other symbols were materialized"
        ),
        metadata={
            "failed_symbols": dg.MetadataValue.json(dict(sorted(failures.items()))),
            "materialized_partitions": len(metadata),
        },
    )
