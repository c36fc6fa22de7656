"""``crypto audit [--json]``: what every table holds and which Dagster partitions are materialized.

For each asset table: total rows, rows per symbol, first and last time, missing candles per
symbol (candle tables: slots between the first and last candle with none), the newest rows;
then, for each partitioned asset, the partitions the Dagster instance (``DAGSTER_HOME``)
reports as materialized and the ones missing. Human-readable by default; ``--json`` for scripts.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal


def register(subparsers) -> None:
    parser = subparsers.add_parser("audit", help="row counts, time ranges, gaps and partition status of every table")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from crypto_assets.environment import prepare_environment
    from crypto_assets.settings import load_settings

    settings = load_settings()
    env = prepare_environment()
    report = {"tables": table_reports(env.database_url), "partitions": partition_status(settings)}
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


def partition_status(settings) -> list[dict]:
    """Per partitioned asset: partitions in total, materialized, missing (and missing per symbol)."""
    import dagster as dg

    from crypto_assets.assets.partitions import split_key
    from crypto_assets.definitions import build_definitions

    defs = build_definitions(settings)
    out = []
    with dg.DagsterInstance.get() as instance:
        for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
            if spec.partitions_def is None:
                continue
            keys = set(spec.partitions_def.get_partition_keys())
            done = instance.get_materialized_partitions(spec.key) & keys
            missing_by_symbol: dict[str, int] = {}
            for key in keys - done:
                symbol = split_key(key)[1]
                missing_by_symbol[symbol] = missing_by_symbol.get(symbol, 0) + 1
            out.append(
                {
                    "asset": spec.key.to_user_string(),
                    "partitions": len(keys),
                    "materialized": len(done),
                    "missing": len(keys) - len(done),
                    "missing_by_symbol": dict(sorted(missing_by_symbol.items())),
                }
            )
    return out


def render(report: dict) -> str:
    """The report as text, one block per table, then the partition status."""
    lines = []
    for table in report["tables"]:
        lines.append(f"{table['table']}: {table['rows']:,} rows")
        for s in table["symbols"]:
            gaps = "" if s["missing_candles"] is None else f", {s['missing_candles']:,} missing candles"
            lines.append(f"  {s['symbol']}: {s['rows']:,} rows, {_plain(s['first'])} .. {_plain(s['last'])}{gaps}")
        for row in table["last_rows"]:
            lines.append("  last: " + " ".join(f"{k}={_plain(v)}" for k, v in row.items()))
    lines.append("Dagster partitions (materialized / total):")
    for p in report["partitions"]:
        by_symbol = ", ".join(f"{s} {n}" for s, n in p["missing_by_symbol"].items())
        lines.append(
            f"  {p['asset']}: {p['materialized']:,} / {p['partitions']:,}, {p['missing']:,} missing"
            + (f" ({by_symbol})" if by_symbol else "")
        )
    return "\n".join(lines)
