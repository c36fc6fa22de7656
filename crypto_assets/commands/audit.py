"""``crypto audit [--json]``: what every table holds and which Dagster partitions are materialized.

For each asset table: total rows, rows per symbol, first and last time, missing candles per
symbol (candle tables: slots between the first and last candle with none), the newest rows;
then, for each partitioned asset, the partitions the Dagster instance (``DAGSTER_HOME``)
reports as materialized, failed or in progress, those cleared on purpose, those missing, and
the failed ones waiting for a retry. Human-readable by default; ``--json`` for scripts.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit", help="row counts, time ranges, gaps and partition status of every table"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of text"
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    from crypto_assets.environment import prepare_environment
    from crypto_assets.settings import load_settings
    from crypto_assets.stack_state import endpoints, use_running_stack

    stack = use_running_stack()
    settings = load_settings()
    env = prepare_environment()
    print(endpoints(env.database_url, env.dagster_home, stack), file=sys.stderr, flush=True)
    report = {
        "tables": table_reports(env.database_url),
        "partitions": partition_status(settings, env.database_url),
    }
    if args.json:
        print(json.dumps(report, default=_plain, indent=2))
    else:
        print(render(report))
    return 0


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def table_reports(database_url: str) -> list[dict]:
    from crypto_assets.warehouse.db import connect
    from crypto_assets.warehouse.inventory import TIME_COLUMN, table_report

    conn = connect(database_url)
    try:
        with conn.cursor() as cur:
            return [asdict(table_report(cur, table)) for table in TIME_COLUMN]
    finally:
        conn.close()


def partition_status(settings, database_url: str) -> list[dict]:
    """Per partitioned asset: partitions up to today, materialized, failed, in progress, cleared on
    purpose (``crypto clear --before``) and missing (per symbol), and the failed ones waiting for
    the catch-up sensor's next retry (with their attempts).

    Counted on sets of partition keys (``read_partition_states``: every asset's status in one
    read), never partition by partition: at 100 symbols x 3 years each asset has 110,000."""
    import dagster as dg

    from crypto_assets.assets.partitions import day_symbol_partitions, partition_keys
    from crypto_assets.automation.partition_states import read_partition_states
    from crypto_assets.warehouse.catch_up_state import first_refill_days, floors
    from crypto_assets.warehouse.db import connect
    from crypto_assets.warehouse.inventory import TIME_COLUMN

    # Every asset table is the day x symbol partitioned asset of its name (test_definitions pins
    # it): the definitions themselves are not loaded (about 0.5 s of this command).
    partitions_def = day_symbol_partitions(settings)
    assets = {dg.AssetKey(table): partitions_def for table in sorted(TIME_COLUMN)}
    today = datetime.now(UTC).date()
    keys = set(partition_keys(dict.fromkeys(settings.symbols, settings.history_start), today))
    out = []
    conn = connect(database_url)
    try:
        with dg.DagsterInstance.get() as instance, conn.cursor() as cur:
            states = read_partition_states(instance, assets)
            for asset_key in assets:
                name = asset_key.to_user_string()
                first_day = first_refill_days(
                    floors(cur, name), settings.symbols, settings.history_start
                )
                below_floor = keys_below(first_day, settings.history_start, today)
                by_status = states[asset_key].sort(keys)
                missing = by_status.unknown - below_floor
                out.append(
                    {
                        "asset": name,
                        "partitions": len(keys),
                        "materialized": by_status.materialized,
                        "failed": len(by_status.failed),
                        "in_progress": len(by_status.in_progress),
                        "cleared": len(by_status.unknown & below_floor),
                        "missing": len(missing),
                        "missing_by_symbol": dict(
                            sorted(Counter(key.split("|")[1] for key in missing).items())
                        ),
                        "retries": waiting_retries(cur, name),
                    }
                )
    finally:
        conn.close()
    return out


def keys_below(first_day: dict[str, date], history_start: date, today: date) -> set[str]:
    """Keys of the partitions before each symbol's first refilled day (cleared on purpose)."""
    return {
        f"{history_start + timedelta(days=i)}|{symbol}"
        for symbol, first in first_day.items()
        for i in range((min(first, today + timedelta(days=1)) - history_start).days)
    }


def waiting_retries(cur, asset: str) -> dict[str, dict]:
    """The asset's failed partitions waiting for a catch-up retry: attempts so far, next try."""
    from crypto_assets.warehouse.catch_up_state import retries

    return {
        f"{day}|{symbol}": {"attempts": r.attempts, "next_attempt_at": r.next_attempt_at}
        for (day, symbol), r in sorted(retries(cur, asset).items())
    }


def render(report: dict) -> str:
    """The report as text, one block per table, then the partition status."""
    lines = []
    for table in report["tables"]:
        lines.append(f"{table['table']}: {table['rows']:,} rows")
        for s in table["symbols"]:
            gaps = (
                ""
                if s["missing_candles"] is None
                else f", {s['missing_candles']:,} missing candles"
            )
            lines.append(
                f"  {s['symbol']}: {s['rows']:,} rows, {_plain(s['first'])} .. {_plain(s['last'])}{gaps}"
            )
        for row in table["last_rows"]:
            lines.append("  last: " + " ".join(f"{k}={_plain(v)}" for k, v in row.items()))
    lines.append("Dagster partitions (materialized / total):")
    for p in report["partitions"]:
        by_symbol = ", ".join(f"{s} {n}" for s, n in p["missing_by_symbol"].items())
        lines.append(
            f"  {p['asset']}: {p['materialized']:,} / {p['partitions']:,}, {p['missing']:,} missing"
            + (f" ({by_symbol})" if by_symbol else "")
            + f", {p['failed']:,} failed, {p['in_progress']:,} in progress, {p['cleared']:,} cleared on purpose"
        )
        for key, retry in list(p["retries"].items())[:20]:
            lines.append(
                f"    retrying {key}: {retry['attempts']} attempt(s) so far, next at {_plain(retry['next_attempt_at'])}"
            )
    return "\n".join(lines)
