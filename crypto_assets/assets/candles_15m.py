"""Asset ``candles_15m``: Binance's closed 15-minute candles, one partition per UTC day and symbol."""

from collections.abc import Iterator

import dagster as dg

from crypto_assets.assets.candle_checks import candle_check_specs
from crypto_assets.assets.candle_run import (
    DayRanges,
    Measured,
    candle_checks,
    create_run_chunks,
    log_gaps,
    measure,
    write_per_symbol,
)
from crypto_assets.assets.kline_ingest import ingest_day_ranges
from crypto_assets.assets.kline_source import KlineSource
from crypto_assets.assets.partition_results import finish
from crypto_assets.assets.partitions import day_ranges_by_symbol
from crypto_assets.assets.progress import ProgressLog, expected_candles
from crypto_assets.binance.wire import interval_ms
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
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetMaterialization]:
        """Closed 15-minute candles from Binance's archive files and REST klines, exact to the digit
        (``kline_source.py`` says which days come from where; each partition's metadata too).

        Each run replaces its (day, symbol) windows in table ``candles_15m``: delete the window,
        then COPY every closed candle, one transaction per symbol, so re-running never
        duplicates and a failed symbol leaves its rows unchanged. The candle still forming is
        not stored. Exchange outages show up as gaps (a warning check), never as invented
        candles. A symbol that is not TRADING (or a symbol the exchange keeps failing for) fails
        only its own partitions; the others are materialized. Each partition's metadata holds its
        own rows, first/last open time, expected and missing candles, and its source.
        """
        ranges = day_ranges_by_symbol(context.partition_keys)
        step = interval_ms(INTERVAL)

        def write_symbol(symbol: str, days: DayRanges) -> Measured:
            with warehouse.transaction() as conn, conn.cursor() as cur:
                written = ingest_day_ranges(
                    source, cur, TABLE, INTERVAL, {symbol: days}, progress=progress.advance
                )
                return measure(cur, TABLE, written, step)

        with binance.client() as client, binance.archive() as archive:
            source = KlineSource(client, archive, context.log)
            progress = ProgressLog(
                context.log, expected_candles(ranges, step), unit="candles", detail=source.describe
            )
            create_run_chunks(warehouse, TABLE, ranges)
            measured, failures = write_per_symbol(
                context, client, ranges, write_symbol, warehouse.writers
            )
        log_gaps(context, list(measured.values()), step)
        with warehouse.transaction() as conn, conn.cursor() as cur:
            checks = candle_checks(cur, TABLE, list(measured.values()), step)
        context.log.info(
            f"REST: {client.stats['requests']} requests, {client.stats['retries']} retries"
        )
        metadata = {key: m for symbol in measured.values() for key, m in symbol.metadata.items()}
        yield from finish(context, metadata, failures, checks)

    return candles_15m
