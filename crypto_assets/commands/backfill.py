"""``crypto backfill ASSET --start --end [--symbols]``: materialize past partitions through Dagster.

Runs are executed in this process against the instance at ``DAGSTER_HOME``, so they show in
the Dagster UI like any other run; the terminal shows each run's progress lines (candles, rate,
ETA, archive files and bytes) and, per run, its rows, rate and the backfill's ETA. Partitions
are batched the way the asset's backfill policy batches them (days x a block of symbols per
run). Everything the user typed is checked first, symbols against the exchange included, so a
bad argument launches nothing.
"""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timezone

from crypto_assets.commands.errors import UsageError

BACKFILL_TAG = "crypto/backfill"


def register(subparsers) -> None:
    parser = subparsers.add_parser("backfill", help="materialize an asset's partitions for a range of UTC days")
    parser.add_argument("asset", help="asset to backfill, e.g. candles_15m")
    parser.add_argument("--start", required=True, help="first UTC day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--end", required=True, help="last UTC day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--symbols", help="comma-separated symbols (default: every symbol in the config)")
    parser.set_defaults(handler=run)


def parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a date like 2024-01-31") from None


def run(args) -> int:
    from crypto_assets.settings import load_settings, parse_symbols

    settings = load_settings()
    start, end = parse_day(args.start, "--start"), parse_day(args.end, "--end")
    today = datetime.now(timezone.utc).date()
    if start > end:
        raise UsageError(f"--start {start} is after --end {end}")
    if end > today:
        raise UsageError(f"--end {end} is in the future (today is {today} UTC)")
    if start < settings.history_start:
        raise UsageError(
            f"--start {start} is before the first partition {settings.history_start} "
            f"(config key 'history_start'{_config_hint(settings)}); lower it to backfill earlier days"
        )
    symbols = parse_symbols(args.symbols, key="--symbols") if args.symbols else settings.symbols
    not_configured = [s for s in symbols if s not in settings.symbols]
    if not_configured:
        raise UsageError(
            f"--symbols: {', '.join(not_configured)} not in the config's symbols ({', '.join(settings.symbols)}); "
            f"add them to config key 'symbols'{_config_hint(settings)} first"
        )
    return _launch(args.asset, settings, start, end, symbols)


def _config_hint(settings) -> str:
    return f" in {settings.config_path}" if settings.config_path else ", set CRYPTO_CONFIG to a config file"


def _launch(asset_name: str, settings, start: date, end: date, symbols) -> int:
    import dagster as dg

    from crypto_assets.automation.catch_up import group_ranges, run_request
    from crypto_assets.binance.limiter import WeightLimiter
    from crypto_assets.binance.rest import BinanceRestClient
    from crypto_assets.definitions import build_definitions
    from crypto_assets.environment import prepare_environment

    defs = build_definitions(settings)
    asset_key = dg.AssetKey(asset_name)
    backfillable = {
        a.key: a for a in defs.resolve_asset_graph().assets_defs if a.is_executable and a.partitions_def is not None
    }
    if asset_key not in backfillable:
        names = ", ".join(sorted(k.to_user_string() for k in backfillable))
        raise UsageError(f"unknown asset {asset_name!r}; backfillable assets: {names}")
    assets_def = backfillable[asset_key]
    policy = assets_def.backfill_policy
    max_per_run = (policy.max_partitions_per_run if policy else None) or 1

    if "binance" in assets_def.required_resource_keys:  # only assets that call the exchange
        with BinanceRestClient(settings.binance_api_url, limiter=WeightLimiter(share=settings.rate_limit_share)) as client:
            client.validate_symbols(list(symbols))
    env = prepare_environment()
    ranges = group_ranges({s: (start, end) for s in symbols}, list(symbols), max_per_run)
    backfill_id = uuid.uuid4().hex[:8]
    total = sum(r.partitions for r in ranges)
    print(
        f"backfill {backfill_id}: {asset_name} {start}..{end} for {', '.join(symbols)}: "
        f"{total} partitions in {len(ranges)} run(s); Dagster instance {env.dagster_home}",
        flush=True,
    )
    job = defs.resolve_implicit_global_asset_job_def()
    failures = 0
    began = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        for index, days in enumerate(ranges, 1):
            request = run_request(asset_key, days, {BACKFILL_TAG: backfill_id})
            label = f"run {index}/{len(ranges)}: {days.first_day}..{days.last_day} {','.join(days.symbols)}"
            print(f"{label} ({days.partitions} partitions) ...", flush=True)
            run_began = time.monotonic()
            result = job.execute_in_process(
                instance=instance,
                asset_selection=[asset_key],
                tags=request.tags,
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                raise_on_error=False,
            )
            seconds = time.monotonic() - run_began
            if result.success:
                rows = _rows_written(result, asset_key)
                print(f"{label} done: {rows:,} rows in {seconds:.1f} s, {rows / max(seconds, 1e-3):,.0f} rows/s"
                      f"{_eta(time.monotonic() - began, index, len(ranges))} (run {result.run_id})", flush=True)
            else:
                failures += 1
                print(f"{label} FAILED after {seconds:.1f} s (run {result.run_id}): {_failure(result)}", flush=True)
    elapsed = time.monotonic() - began
    print(f"backfill {backfill_id}: {len(ranges) - failures}/{len(ranges)} runs succeeded in {elapsed:.1f} s", flush=True)
    return 1 if failures else 0


def _eta(elapsed: float, done: int, total: int) -> str:
    """'; ETA 12 s for 3 more runs' from the runs' average so far ('' after the last run)."""
    if done >= total:
        return ""
    return f"; ETA {elapsed / done * (total - done):,.0f} s for {total - done} more run(s)"


def _rows_written(result, asset_key) -> int:
    """Rows the run wrote (every partition of a run carries the run's totals)."""
    for event in result.all_events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            if materialization.asset_key == asset_key and "rows" in materialization.metadata:
                return int(materialization.metadata["rows"].value)
    return 0


def _failure(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and "Error occurred while executing" in error.message:
                error = error.cause
            return error.message.strip().splitlines()[-1] if error.message.strip() else "step failed"
    return "run failed"
