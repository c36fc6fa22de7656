"""``crypto backfill ASSET --start --end [--symbols]``: materialize past partitions through Dagster.

Runs are executed in this process against the instance at ``DAGSTER_HOME``, so they show in
the Dagster UI like any other run; the terminal shows each run's progress lines (candles, rate,
ETA, archive files and bytes) and, per run, its rows, rate and the backfill's ETA. Partitions
are batched the way the asset's backfill policy batches them (days x a block of symbols per
run). Everything the user typed is checked first, symbols against the exchange included, so a
bad argument launches nothing.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from crypto_assets.binance.errors import SYMBOL_LIKENESS
from crypto_assets.commands.arguments import day_flag
from crypto_assets.commands.errors import UsageError
from crypto_assets.inputs import closest

BACKFILL_TAG = "crypto/backfill"
PREFLIGHT_RETRY_S = 30.0
"""The symbol check before any run waits at most this long for the exchange (the runs use the
whole ``rest_retry_seconds``)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "backfill", help="materialize an asset's partitions for a range of UTC days"
    )
    parser.add_argument("asset", help="asset to backfill, e.g. candles_15m")
    parser.add_argument(
        "--start", required=True, type=day_flag, help="first UTC day, YYYY-MM-DD (inclusive)"
    )
    parser.add_argument(
        "--end", required=True, type=day_flag, help="last UTC day, YYYY-MM-DD (inclusive)"
    )
    parser.add_argument(
        "--symbols", help="comma-separated symbols (default: every symbol in the config)"
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    from crypto_assets.settings import load_settings, parse_symbols
    from crypto_assets.stack_state import use_running_stack

    stack = use_running_stack()  # next to a running crypto up: its database, instance and exchange
    settings = load_settings()
    start, end = args.start, args.end
    today = datetime.now(UTC).date()
    if start > end:
        raise UsageError(f"flag --start {start} is after --end {end}")
    if end > today:
        raise UsageError(
            f"flag --end: {end} is in the future (today is {today} UTC, the latest valid day)"
        )
    if start < settings.history_start:
        raise UsageError(
            f"flag --start: {start} is before the first partition {settings.history_start} "
            f"(config key 'history_start'{_config_hint(settings)}); lower it to backfill earlier days"
        )
    symbols = (
        parse_symbols(args.symbols, where="flag --symbols") if args.symbols else settings.symbols
    )
    not_configured = [s for s in symbols if s not in settings.symbols]
    if not_configured:
        raise UsageError(
            f"flag --symbols: {', '.join(not_configured)} not in the config's symbols ({', '.join(settings.symbols)})"
            f"{closest(not_configured[0], settings.symbols, cutoff=SYMBOL_LIKENESS)}; add them "
            f"to config key 'symbols'{_config_hint(settings)} first"
        )
    return _launch(
        args.asset,
        settings,
        start,
        end,
        symbols,
        "flag --symbols" if args.symbols else "config key 'symbols'",
        stack,
    )


def _config_hint(settings) -> str:
    return (
        f" in {settings.config_path}"
        if settings.config_path
        else ", set CRYPTO_CONFIG to a config file"
    )


def _launch(
    asset_name: str, settings, start: date, end: date, symbols, symbols_from: str, stack
) -> int:
    import dagster as dg

    from crypto_assets.automation.run_shapes import describe, exact_runs, run_request
    from crypto_assets.binance.errors import UnknownSymbolError
    from crypto_assets.binance.limiter import WeightLimiter
    from crypto_assets.binance.rest import BinanceRestClient
    from crypto_assets.definitions import build_definitions
    from crypto_assets.environment import prepare_environment
    from crypto_assets.run_launcher import host_tags
    from crypto_assets.run_report import failure_reason, rows_per_symbol
    from crypto_assets.stack_state import endpoints

    defs = build_definitions(settings)
    asset_key = dg.AssetKey(asset_name)
    backfillable = {
        a.key: a
        for a in defs.resolve_asset_graph().assets_defs
        if a.is_executable and a.partitions_def is not None
    }
    if asset_key not in backfillable:
        names = ", ".join(sorted(k.to_user_string() for k in backfillable))
        raise UsageError(
            f"unknown asset {asset_name!r}{closest(asset_name, names.split(', '))}; backfillable assets: {names}"
        )
    assets_def = backfillable[asset_key]
    policy = assets_def.backfill_policy
    max_per_run = (policy.max_partitions_per_run if policy else None) or 1

    if "binance" in assets_def.required_resource_keys:  # only assets that call the exchange
        with BinanceRestClient(
            settings.binance_api_url,
            limiter=WeightLimiter(share=settings.rate_limit_share),
            retry_budget_s=min(settings.rest_retry_seconds, PREFLIGHT_RETRY_S),
        ) as client:
            try:
                client.validate_symbols(list(symbols))
            except UnknownSymbolError as err:
                raise UsageError(f"{symbols_from}: {err}") from None
    env = prepare_environment()
    print(
        endpoints(
            env.database_url,
            env.dagster_home,
            stack,
            settings.binance_api_url,
            settings.binance_archive_url,
        ),
        file=sys.stderr,
        flush=True,
    )
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    ranges = exact_runs([(day, s) for day in days for s in symbols], settings.symbols, max_per_run)
    backfill_id = uuid.uuid4().hex[:8]
    total = sum(r.partitions for r in ranges)
    print(
        f"backfill {backfill_id}: {asset_name} {start}..{end} for {', '.join(symbols)}: "
        f"{total} partitions in {len(ranges)} run(s); Dagster instance {env.dagster_home}",
        flush=True,
    )
    job = defs.resolve_implicit_global_asset_job_def()
    failures = 0
    rows_by_symbol: dict[str, int] = {}
    began = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        for index, block in enumerate(ranges, 1):
            request = run_request(asset_key, block, {BACKFILL_TAG: backfill_id, **host_tags()})
            label = f"run {index}/{len(ranges)}: {describe(block)}"
            print(f"{label} ({block.partitions} partitions) ...", flush=True)
            run_began = time.monotonic()
            result = job.execute_in_process(
                instance=instance,
                asset_selection=[asset_key],
                tags=request.tags,
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                raise_on_error=False,
            )
            seconds = time.monotonic() - run_began
            rows = rows_per_symbol(result.all_events, asset_key)
            for symbol, count in rows.items():
                rows_by_symbol[symbol] = rows_by_symbol.get(symbol, 0) + count
            written = ", ".join(f"{s} {n:,}" for s, n in rows.items()) or "none"
            if result.success:
                total_rows = sum(rows.values())
                print(
                    f"{label} done in {seconds:.1f} s: rows {written}, {total_rows / max(seconds, 1e-3):,.0f} rows/s"
                    f"{_eta(time.monotonic() - began, index, len(ranges))} (run {result.run_id})",
                    flush=True,
                )
            else:
                failures += 1
                print(
                    f"{label} FAILED after {seconds:.1f} s (run {result.run_id}): "
                    f"{failure_reason(result.all_events)}; rows kept: {written}",
                    flush=True,
                )
    elapsed = time.monotonic() - began
    per_symbol = ", ".join(f"{s} {rows_by_symbol.get(s, 0):,}" for s in symbols)
    print(
        f"backfill {backfill_id}: {len(ranges) - failures}/{len(ranges)} runs succeeded in "
        f"{elapsed:.1f} s; rows {per_symbol}",
        flush=True,
    )
    return 1 if failures else 0


def _eta(elapsed: float, done: int, total: int) -> str:
    """'; ETA 12 s for 3 more runs' from the runs' average so far ('' after the last run)."""
    if done >= total:
        return ""
    return f"; ETA {elapsed / done * (total - done):,.0f} s for {total - done} more run(s)"
