"""The checks that are particular to ``candles_1m`` (the shared candle checks come on top).

* ``complete_minutes``: after a run, every minute REST has is in the table, closed; the
  minutes REST lacks too are exchange outages, listed by the ``gaps_reported`` warning;
* ``stream_matches_rest``: the stream's closed candles equal REST's for the same minutes
  (compared before the run replaces anything, so a difference is seen once, then repaired);
* ``fresh_while_streaming``: while the collector runs (a heartbeat in the last minute), every
  symbol's newest closed minute closed at most 2 minutes ago. Evaluated by the stream-gaps
  sensor on every tick and on demand from the UI, not by materializations.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
from psycopg2.extensions import cursor

from crypto_assets.assets.candle_checks import candle_check_specs
from crypto_assets.assets.candles_1m_repair import Comparison
from crypto_assets.stream.heartbeat import collector_running

COMPLETE = "complete_minutes"
MATCHES_REST = "stream_matches_rest"
FRESH = "fresh_while_streaming"
FRESH_WITHIN = timedelta(minutes=2)
COLLECTOR_ALIVE_WITHIN_S = 60.0
_SAMPLE = 20


def candles_1m_check_specs(asset_key: str) -> list[dg.AssetCheckSpec]:
    """The checks a ``candles_1m`` materialization reports."""
    return [
        *candle_check_specs(asset_key),
        dg.AssetCheckSpec(
            COMPLETE,
            asset=asset_key,
            description="Every minute REST has is stored and closed (outages aside).",
        ),
        dg.AssetCheckSpec(
            MATCHES_REST,
            asset=asset_key,
            description="The stream's closed candles equal REST's for the same minutes.",
        ),
    ]


def check_complete(missing: Sequence[str]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=COMPLETE,
        passed=not missing,
        metadata={
            "missing_minutes": len(missing),
            "examples": dg.MetadataValue.json(list(missing[:_SAMPLE])),
        },
    )


def check_matches_rest(comparison: Comparison) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=MATCHES_REST,
        passed=comparison.mismatch_count == 0,
        metadata={
            "stream_closed_candles": comparison.compared,
            "differing": comparison.mismatch_count,
            "examples": dg.MetadataValue.json(comparison.examples),
        },
    )


def freshness(cur: cursor, symbols: Sequence[str], now: datetime) -> tuple[bool, dict[str, Any]]:
    """(passed, metadata) of ``fresh_while_streaming`` at ``now``."""
    if not collector_running(cur, COLLECTOR_ALIVE_WITHIN_S):
        return True, {
            "collector_running": False,
            "note": "no collector heartbeat in the last minute: not applicable",
        }
    cur.execute(
        "SELECT s.symbol, last.open_time FROM unnest(%s::text[]) AS s(symbol) LEFT JOIN LATERAL"
        " (SELECT open_time FROM candles_1m c WHERE c.symbol = s.symbol AND c.is_closed ORDER "
        "BY open_time DESC LIMIT 1)"
        " AS last ON true ORDER BY s.symbol",
        (list(symbols),),
    )
    newest = dict(cur.fetchall())
    stale = [
        s
        for s, open_time in newest.items()
        if open_time is None or now - (open_time + timedelta(minutes=1)) > FRESH_WITHIN
    ]
    return not stale, {
        "collector_running": True,
        "stale_symbols": dg.MetadataValue.json(stale),
        "newest_closed_minute": dg.MetadataValue.json(
            {s: t.isoformat() if t else None for s, t in newest.items()}
        ),
    }


def freshness_evaluation(
    asset_key: dg.AssetKey, cur: cursor, symbols: Sequence[str], now: datetime
) -> dg.AssetCheckEvaluation:
    """``fresh_while_streaming`` as an evaluation a sensor can report."""
    passed, metadata = freshness(cur, symbols, now)
    return dg.AssetCheckEvaluation(
        asset_key=asset_key, check_name=FRESH, passed=passed, metadata=metadata
    )
