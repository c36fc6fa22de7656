"""Asset ``candles_1m``: the stream collector's 1-minute candles, made complete from REST per UTC day and symbol."""

from datetime import datetime, timezone

import dagster as dg

from crypto_assets.assets import candles_1m_repair as repair
from crypto_assets.assets.candle_checks import check_gaps, check_no_duplicates, check_ohlc_invariants
from crypto_assets.assets.candles_1m_checks import (
    FRESH,
    candles_1m_check_specs,
    check_complete,
    check_matches_rest,
    freshness,
)
from crypto_assets.assets.kline_ingest import RunSummary, ingest_day_ranges
from crypto_assets.assets.kline_source import KlineSource, record_sources
from crypto_assets.assets.partitions import day_ranges_by_symbol
from crypto_assets.assets.progress import ProgressLog, expected_candles
from crypto_assets.binance.wire import interval_ms
from crypto_assets.resources import BinanceResource, WarehouseResource
from crypto_assets.settings import Settings

TABLE = "candles_1m"
INTERVAL = "1m"
REST_NOW_KEY = "rest_now_ms"
"""Metadata: the exchange's time when the run read REST; every minute closed before it is REST's."""
# One partition is 1,440 candles: two REST requests, or a slice of an archive file (a year of
# two symbols loads in seconds). A run costs about a second to start, so a backfill of N
# partitions takes ceil(N / this) runs of up to 1.44 M candles (30 s at REST's weight limit).
MAX_PARTITIONS_PER_RUN = 1000


def build_candles_1m(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The ``candles_1m`` asset over the given day x symbol partitions."""

    @dg.asset(
        name=TABLE,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN),
        check_specs=candles_1m_check_specs(TABLE),
        group_name="live",
        kinds={"postgres"},
        tags={"source": "binance-websocket-archive-and-rest"},
    )
    def candles_1m(
        context: dg.AssetExecutionContext, binance: BinanceResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """One-minute candles: written live by the stream collector (`crypto stream`), made
        complete here from Binance's archive files and REST klines for each (day, symbol)
        (``kline_source.py`` says which days come from where; each partition's metadata too).

        A run reads REST's closed 1m candles for its windows, compares the stream's closed
        candles with them (check `stream_matches_rest`), then makes the table equal REST:
        minutes the stream missed are filled, rows that never closed or differ are replaced
        (values from REST win, `source = 'rest'`), rows REST does not have are removed; the
        stream's rows equal to REST's keep `source = 'stream'`. One transaction; re-running
        changes nothing. Today's partition covers the minutes closed so far. Exchange outages
        are reported as gaps, never filled. The stream-gaps sensor requests runs when recent
        minutes are missing; a daily schedule finalises yesterday.
        """
        ranges = day_ranges_by_symbol(context.partition_keys)
        with binance.client() as client, binance.archive() as archive:
            client.validate_symbols(list(ranges))
            rest_now_ms = client.server_time_ms()
            source = KlineSource(client, archive, context.log)
            progress = ProgressLog(context.log, expected_candles(ranges, interval_ms(INTERVAL)), unit="candles", detail=source.describe)
            with warehouse.transaction() as conn, conn.cursor() as cur:
                direct = repair.empty_past_days(cur, ranges, rest_now_ms)  # nothing to merge with: COPY straight in
                repair.create_staging(cur)
                results = ingest_day_ranges(source, cur, TABLE if direct else repair.STAGING, INTERVAL, ranges,
                                            constants={"is_closed": "true", "source": "rest"}, progress=progress.advance)
                windows = [(s.symbol, s.start_ms, s.end_ms) for s in results if s.end_ms > s.start_ms]
                repair.set_windows(cur, windows)
                comparison = repair.compare(cur)
                counts = repair.copied(results) if direct else repair.merge(cur)
                missing = [] if counts.into_empty_windows else repair.missing_after(cur)
                check_results = [
                    check_no_duplicates(cur, TABLE, windows),
                    check_ohlc_invariants(cur, TABLE, windows),
                    check_complete(missing),
                    check_matches_rest(comparison),
                ]
        record_sources(context, results)
        summary = RunSummary(results, interval_ms(INTERVAL))
        summary.log_gaps(context.log)
        check_results.append(check_gaps(summary.gaps, summary.missing))
        if comparison.mismatch_count:
            context.log.warning(f"{comparison.mismatch_count} stream candles differed from REST and were replaced")
        return dg.MaterializeResult(metadata=_metadata(summary, counts, rest_now_ms), check_results=check_results)

    return candles_1m


def build_freshness_check(asset_key: dg.AssetKey, settings: Settings) -> dg.AssetChecksDefinition:
    """``fresh_while_streaming``, to run on demand (the stream-gaps sensor reports it every tick)."""

    @dg.asset_check(asset=asset_key, name=FRESH, blocking=False,
                    description="While the collector runs, each symbol's newest closed minute closed at most 2 minutes ago.")
    def fresh_while_streaming(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.transaction() as conn, conn.cursor() as cur:
            passed, metadata = freshness(cur, settings.symbols, datetime.now(timezone.utc))
        return dg.AssetCheckResult(passed=passed, metadata=metadata)

    return fresh_while_streaming


def _metadata(summary: RunSummary, counts: repair.MergeCounts, rest_now_ms: int) -> dict:
    return {
        **summary.metadata(),
        "filled_from_rest": counts.filled,
        "replaced_by_rest": counts.replaced,
        "removed_not_in_rest": counts.removed,
        REST_NOW_KEY: rest_now_ms,
    }
