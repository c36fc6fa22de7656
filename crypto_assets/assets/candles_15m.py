"""Asset ``candles_15m``: Binance's closed 15-minute candles, one partition per UTC day and symbol."""

import dagster as dg

from crypto_assets.assets.candle_checks import (
    candle_check_specs,
    check_gaps,
    check_no_duplicates,
    check_ohlc_invariants,
)
from crypto_assets.assets.kline_ingest import IngestStats, RunSummary, ingest_day_ranges
from crypto_assets.assets.kline_source import KlineSource, record_sources
from crypto_assets.assets.partitions import day_ranges_by_symbol
from crypto_assets.assets.progress import ProgressLog, expected_candles
from crypto_assets.binance.wire import interval_ms, ms_to_datetime
from crypto_assets.resources import BinanceResource, WarehouseResource

TABLE = "candles_15m"
INTERVAL = "15m"
# A backfill of N partitions takes ceil(N / this) runs: a run costs about a second to start,
# while a day of 15m candles for one symbol is a single 96-row request or archive file slice.
MAX_PARTITIONS_PER_RUN = 2000


def build_candles_15m(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The ``candles_15m`` asset over the given day x symbol partitions."""

    @dg.asset(
        name=TABLE,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN),
        check_specs=candle_check_specs(TABLE),
        group_name="history",
        kinds={"postgres"},
        tags={"source": "binance-archive-and-rest"},
    )
    def candles_15m(
        context: dg.AssetExecutionContext, binance: BinanceResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Closed 15-minute candles from Binance's archive files and REST klines, exact to the digit
        (``kline_source.py`` says which days come from where; each partition's metadata too).

        Each run replaces its (day, symbol) windows in table ``candles_15m``: delete the window,
        then COPY every closed candle, in one transaction, so re-running never duplicates and a
        failed run leaves the table unchanged. The candle still forming is not stored. Exchange
        outages show up as gaps (a warning check), never as invented candles. Symbols are
        checked against exchangeInfo (status TRADING) before anything is written.
        """
        ranges = day_ranges_by_symbol(context.partition_keys)
        step = interval_ms(INTERVAL)
        with binance.client() as client, binance.archive() as archive:
            client.validate_symbols(list(ranges))
            source = KlineSource(client, archive, context.log)
            progress = ProgressLog(context.log, expected_candles(ranges, step), unit="candles", detail=source.describe)
            with warehouse.transaction() as conn, conn.cursor() as cur:
                results = ingest_day_ranges(source, cur, TABLE, INTERVAL, ranges, progress=progress.advance)
                windows = [(s.symbol, s.start_ms, s.end_ms) for s in results]
                check_results = [check_no_duplicates(cur, TABLE, windows), check_ohlc_invariants(cur, TABLE, windows)]
        for stats in results:
            if stats.listed_from_ms is not None:
                context.log.warning(_listing_note(stats))
        record_sources(context, results)
        summary = RunSummary(results, step)
        summary.log_gaps(context.log)
        check_results.append(check_gaps(summary.gaps, summary.missing))
        return dg.MaterializeResult(metadata=_metadata(summary, client.stats), check_results=check_results)

    return candles_15m


def _listing_note(stats: IngestStats) -> str:
    if stats.listed_from_ms is None:
        return f"{stats.symbol}: no candles at all"
    return (
        f"{stats.symbol} has no candles before {ms_to_datetime(stats.listed_from_ms):%Y-%m-%d %H:%M} UTC "
        f"(its first candle); stored what exists from {ms_to_datetime(stats.start_ms):%Y-%m-%d}"
    )


def _metadata(summary: RunSummary, http_stats: dict) -> dict:
    return {
        **summary.metadata(),
        "not_listed_yet": dg.MetadataValue.json([_listing_note(s) for s in summary.results if s.listed_from_ms is not None]),
        "rest_requests": http_stats["requests"],
        "rest_retries": http_stats["retries"],
    }
