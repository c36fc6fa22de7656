"""``crypto clear --raw | --downsampled | --all [--symbol S] [--before YYYY-MM-DD] [--yes]``.

Shows how many rows each table would lose and asks before deleting (unless ``--yes``). The
rows go in one transaction, after the runs writing them (their write locks); then, once the
runs in flight on these tables have ended (a run records its partitions as it ends), the
Dagster instance (``DAGSTER_HOME``) forgets the matching partitions, so it no longer reports
them as materialized and the catch-up sensors and automation conditions refill them if they
are still wanted. ``--raw`` is candles_15m, candles_1m and price_samples; ``--downsampled`` is
price_downsampled, candles_1h, candles_1d and market_metrics_daily. ``--before`` clears whole
UTC days before that day.
"""

from __future__ import annotations

import sys
import time

from crypto_assets.commands.arguments import day_flag
from crypto_assets.commands.errors import UsageError

RUNS_WAIT_S = 600.0
"""How long a clear waits for the runs writing its tables to end (their partitions are forgotten
after them)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "clear", help="delete rows (and their partition status) from the asset tables"
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--raw", action="store_true", help="candles_15m, candles_1m, price_samples")
    which.add_argument(
        "--downsampled",
        action="store_true",
        help="price_downsampled, candles_1h, candles_1d, market_metrics_daily",
    )
    which.add_argument("--all", action="store_true", help="every asset table")
    parser.add_argument("--symbol", help="only this symbol, e.g. BTCUSDT")
    parser.add_argument("--before", type=day_flag, help="only UTC days before this one, YYYY-MM-DD")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from crypto_assets.environment import prepare_environment
    from crypto_assets.settings import load_settings, parse_symbols
    from crypto_assets.stack_state import endpoints, use_running_stack
    from crypto_assets.warehouse.inventory import DOWNSAMPLED_TABLES, RAW_TABLES

    stack = use_running_stack()
    symbol = (
        parse_symbols([args.symbol], where="flag --symbol")[0] if args.symbol is not None else None
    )
    before = args.before
    tables = (
        RAW_TABLES
        if args.raw
        else DOWNSAMPLED_TABLES
        if args.downsampled
        else RAW_TABLES + DOWNSAMPLED_TABLES
    )
    configured = load_settings().symbols
    env = prepare_environment()
    print(endpoints(env.database_url, env.dagster_home, stack), file=sys.stderr, flush=True)
    return clear(env.database_url, tables, symbol, before, assume_yes=args.yes, known=configured)


def clear(
    database_url: str, tables, symbol, before, *, assume_yes: bool, known: tuple[str, ...] = ()
) -> int:
    """Show, ask, delete. A ``symbol`` outside the config's (``known``) symbols is refused when
    no table holds it: a typo, not a symbol dropped from the config whose rows remain."""
    import dagster as dg

    from crypto_assets.assets.partitions import split_key
    from crypto_assets.automation.partition_wipe import forget_partitions
    from crypto_assets.warehouse.catch_up_state import raise_floor
    from crypto_assets.warehouse.db import connect
    from crypto_assets.warehouse.inventory import count_rows, delete_rows, table_symbols
    from crypto_assets.warehouse.locks import lock_symbols

    scope = f"{symbol or 'every symbol'}, {'days before ' + before.isoformat() if before else 'all days'}"
    conn = connect(database_url)
    try:
        with dg.DagsterInstance.get() as instance:
            with conn.cursor() as cur:
                counts = {table: count_rows(cur, table, symbol, before) for table in tables}
            if symbol is not None and symbol not in known and not any(counts.values()):
                raise UsageError(
                    f"flag --symbol: {symbol} is not one of the config's symbols"
                    f" ({', '.join(known)}) and no table of {', '.join(tables)} holds rows of it"
                )

            def in_scope(table: str) -> list[str]:
                """The table's materialized partitions this clear covers."""
                return sorted(
                    key
                    for key in instance.get_materialized_partitions(dg.AssetKey(table))
                    if (symbol is None or split_key(key)[1] == symbol)
                    and (before is None or split_key(key)[0] < before)
                )

            partitions = {table: in_scope(table) for table in tables}
            print(f"crypto clear ({scope}) will delete:")
            for table in tables:
                print(
                    f"  {table}: {counts[table]:,} rows, {len(partitions[table]):,} materialized partitions"
                )
            if not assume_yes and not _confirmed():
                print("nothing deleted")
                return 1
            with conn, conn.cursor() as cur:  # every table's rows, or none
                for table in tables:  # wait for runs writing these tables (their write locks)
                    lock_symbols(
                        cur, table, table_symbols(cur, table) if symbol is None else [symbol]
                    )
                deleted = {table: delete_rows(cur, table, symbol, before) for table in tables}
                if before is not None:  # removed on purpose: the sensors must not refill them
                    for table in tables:
                        raise_floor(cur, table, symbol, before)
            # Only once the rows are gone for good does the instance forget their partitions; a
            # run that wrote just before the delete records its partitions as it ends, so those
            # runs are waited for, and the partitions to forget are read after them.
            _wait_for_runs_writing(instance, tables)
            for table in tables:
                gone = in_scope(table)
                forget_partitions(instance, dg.AssetKey(table), gone)
                print(
                    f"  {table}: deleted {deleted[table]:,} rows; {len(gone):,} partitions now missing"
                )
    finally:
        conn.close()
    return 0


def _wait_for_runs_writing(instance, tables, timeout_s: float = RUNS_WAIT_S) -> None:
    """Wait (at most ``timeout_s``) until no run in flight materializes one of ``tables``."""
    import dagster as dg

    keys = {dg.AssetKey(table) for table in tables}
    in_flight = [
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]

    def writing() -> list[str]:
        records = instance.get_run_records(dg.RunsFilter(statuses=in_flight))
        return [
            r.dagster_run.run_id[:8]
            for r in records
            if keys & set(r.dagster_run.asset_selection or ())
        ]

    runs = writing()
    if not runs:
        return
    print(f"  waiting for {len(runs)} run(s) writing these tables to end: {', '.join(runs)}")
    deadline = time.monotonic() + timeout_s
    while runs and time.monotonic() < deadline:
        time.sleep(1)
        runs = writing()
    if runs:
        print(
            f"  run(s) {', '.join(runs)} still writing after {timeout_s:.0f} s: the partitions they"
            " record from now on may show materialized without their rows (crypto audit); clear again after them"
        )


def _confirmed() -> bool:
    """Ask on stdin; no answer (end of input) means no."""
    try:
        answer = input("delete these rows? [y/N] ")
    except EOFError:
        print("\nno answer on stdin (add --yes to delete without asking)")
        return False
    return answer.strip().lower() in {"y", "yes"}
