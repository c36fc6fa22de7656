"""Asset ``candles_1m``: the stream collector's 1-minute candles, made complete from REST per UTC day and symbol."""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from crypto_assets.assets import candles_1m_repair as repair
from crypto_assets.assets.candle_run import (
    DayRanges,
    Measured,
    candle_checks,
    create_run_chunks,
    log_gaps,
    measure,
    stored_windows,
    write_per_symbol,
)
from crypto_assets.assets.candles_1m_checks import (
    FRESH,
    candles_1m_check_specs,
    check_complete,
    check_matches_rest,
    freshness,
)
from crypto_assets.assets.kline_ingest import IngestStats, ingest_day_ranges
from crypto_assets.assets.kline_source import ARCHIVE, REST, KlineSource
from crypto_assets.assets.partition_results import finish
from crypto_assets.assets.partitions import day_ranges_by_symbol, partition_key
from crypto_assets.assets.progress import ProgressLog, expected_candles
from crypto_assets.binance.wire import interval_ms
from crypto_assets.resources import BinanceResource, WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets.warehouse.locks import lock_symbols

TABLE = "candles_1m"
INTERVAL = "1m"
REST_NOW_KEY = "rest_now_ms"
"""Metadata: the exchange's time when the run read REST; every minute closed before it is REST's."""
SOURCE_COUNTS = {
    "rows_from_stream": "count(*) FILTER (WHERE t.source = 'stream')",
    "rows_from_rest": "count(*) FILTER (WHERE t.source = 'rest')",
}
"""Per-partition metadata: how many of the day's stored minutes came from the stream, and from REST."""
# One partition is 1,440 candles: two REST requests, or a slice of an archive file (a year of
# two symbols loads in seconds). A run costs about a second to start, so a backfill of N
# partitions takes ceil(N / this) runs of up to 1.44 M candles (30 s at REST's weight limit).
MAX_PARTITIONS_PER_RUN = 1000


@dataclass(frozen=True)
class SymbolRun:
    """What a run did to one symbol's windows, in its own transaction."""

    measured: Measured
    comparison: repair.Comparison  # the stream's closed rows against REST's, before any change
    missing_after: list[str]  # REST candles still absent after the write (none, normally)


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
    ) -> Iterator[dg.MaterializeResult[None] | dg.AssetMaterialization]:
        """One-minute candles: written live by the stream collector (`crypto stream`), made
        complete here from Binance's archive files and REST klines for each (day, symbol)
        (``kline_source.py`` says which days come from where; each partition's metadata too).

        A run reads REST's closed 1m candles for its windows, compares the stream's closed
        candles with them (check `stream_matches_rest`), then makes the table equal REST:
        minutes the stream missed are filled, rows that never closed or differ are replaced
        (values from REST win, `source = 'rest'`), rows REST does not have are removed (but not the
        newest minutes while REST is still catching up: `minutes_awaiting_rest`); the stream's
        rows equal to REST's keep `source = 'stream'`. One transaction per symbol; re-running
        changes nothing; a symbol that is not TRADING fails only its own partitions. Each
        partition's metadata holds its own rows (from the stream, from REST), gaps and
        `rest_now_ms`. Today's partition covers the minutes closed so far. Exchange outages
        are reported as gaps, never filled. The stream-gaps sensor requests runs when recent
        minutes are missing; a daily schedule finalises yesterday.
        """
        ranges = day_ranges_by_symbol(context.partition_keys)
        step = interval_ms(INTERVAL)

        def write_symbol(symbol: str, days: DayRanges) -> SymbolRun:
            with warehouse.transaction() as conn, conn.cursor() as cur:
                lock_symbols(cur, TABLE, [symbol])
                direct = repair.empty_past_days(
                    cur, {symbol: days}, rest_now_ms
                )  # nothing to merge with: COPY straight in
                repair.create_staging(cur)
                written = ingest_day_ranges(
                    source,
                    cur,
                    TABLE if direct else repair.STAGING,
                    INTERVAL,
                    {symbol: days},
                    constants={"is_closed": True, "source": "rest"},
                    progress=progress.advance,
                )
                written, awaiting_rest = repair.hold_back_unserved(written, rest_now_ms, step)
                repair.set_windows(cur, stored_windows(written))
                if direct:  # the days held no row: only a stream row written since can differ
                    measured = measure(cur, TABLE, written, step, SOURCE_COUNTS)
                    streamed = sum(m["rows_from_stream"] for m in measured.metadata.values())
                    comparison = repair.compare(cur) if streamed else repair.Comparison(0, 0, [])
                    counts, missing_after = repair.copied(written), []
                else:
                    comparison = repair.compare(cur)
                    counts = repair.merge(cur)
                    # after a merge into empty windows every REST candle was inserted: none missing
                    missing_after = [] if counts.into_empty_windows else repair.missing_after(cur)
                    measured = measure(cur, TABLE, written, step, SOURCE_COUNTS)
            context.log.info(
                f"{symbol}: {_fetched(written)}; {counts.filled:,} minutes filled, {counts.replaced:,} replaced, "
                f"{counts.removed:,} removed (not in REST), {awaiting_rest:,} newest left to the stream (REST lags)"
            )
            for metadata in measured.metadata.values():
                metadata.update({REST_NOW_KEY: rest_now_ms, "minutes_awaiting_rest": 0})
            if awaiting_rest:  # held back at the end of the symbol's last window: today's partition
                today = str(partition_key(days[-1][1], symbol))
                measured.metadata[today]["minutes_awaiting_rest"] = awaiting_rest
            return SymbolRun(measured, comparison, missing_after)

        with binance.client() as client, binance.archive() as archive:
            rest_now_ms = client.server_time_ms()
            source = KlineSource(client, archive, context.log)
            progress = ProgressLog(
                context.log, expected_candles(ranges, step), unit="candles", detail=source.describe
            )
            create_run_chunks(warehouse, TABLE, ranges, {"source": "rest"})
            runs, failures = write_per_symbol(
                context, client, ranges, write_symbol, warehouse.writers
            )
        measured = [run.measured for run in runs.values()]
        log_gaps(context, measured, step)
        comparison = repair.Comparison.combine([run.comparison for run in runs.values()])
        if comparison.mismatch_count:
            context.log.warning(
                f"{comparison.mismatch_count} stream candles differed from REST and were replaced"
            )
        with warehouse.transaction() as conn, conn.cursor() as cur:
            checks = [
                *candle_checks(cur, TABLE, measured, step),
                check_complete([minute for run in runs.values() for minute in run.missing_after]),
                check_matches_rest(comparison),
            ]
        metadata = {key: m for symbol in measured for key, m in symbol.metadata.items()}
        yield from finish(context, metadata, failures, checks)

    return candles_1m


def _fetched(written: list[IngestStats]) -> str:
    """'525,600 closed minutes from the archive, 1,440 from REST': what a symbol's windows got."""
    rows = Counter[str]()
    for stats in written:
        for day in stats.sources.values():
            rows[day.source] += day.rows
    names = {ARCHIVE: "the archive", REST: "REST"}
    parts = [
        f"{count:,} from {names.get(source, source)}" for source, count in sorted(rows.items())
    ]
    return "closed minutes: " + (", ".join(parts) if parts else "none")


def build_freshness_check(asset_key: dg.AssetKey, settings: Settings) -> dg.AssetChecksDefinition:
    """``fresh_while_streaming``, to run on demand (the stream-gaps sensor reports it every tick)."""

    @dg.asset_check(
        asset=asset_key,
        name=FRESH,
        blocking=False,
        description="While the collector runs, each symbol's newest closed minute closed at most 2 minutes ago.",
    )
    def fresh_while_streaming(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.transaction() as conn, conn.cursor() as cur:
            passed, metadata = freshness(cur, settings.symbols, datetime.now(UTC))
        return dg.AssetCheckResult(passed=passed, metadata=metadata)

    return fresh_while_streaming
