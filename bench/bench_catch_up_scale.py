"""Cost at scale: one catch-up sensor tick and ``crypto audit``'s partition status at 100 symbols x 3 years.

A throwaway PostgreSQL holds the warehouse and the Dagster instance (as ``make up`` does). The
instance is seeded with one materialization per partition of ``candles_15m`` (about 110,000),
but for a hole every 97th partition and a failed run, so the tick has real work to find. Then:

- the sensor tick: ``build_catch_up_sensor(...)`` evaluated as the daemon does, median of 5;
- the audit: ``crypto audit``'s ``partition_status`` for every partitioned asset, median of 3.

    uv run python -m bench.bench_catch_up_scale [--symbols 100] [--years 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from bench.harness import fresh_database, median, report, throwaway_postgres
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.commands.audit import partition_status
from crypto_assets.definitions import build_definitions
from crypto_assets.environment import dagster_storage_url
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings

KEY = dg.AssetKey("candles_15m")


def seed(instance: dg.DagsterInstance, keys: Sequence[str]) -> int:
    """One materialization per partition, skipping every 97th (the holes); returns how many."""
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    run_id = "bench-seed"
    entries = []
    for index, key in enumerate(keys):
        if index % 97 == 0:
            continue
        event = DagsterEvent(
            DagsterEventType.ASSET_MATERIALIZATION.value,
            "__ASSET_JOB",
            event_specific_data=StepMaterializationData(
                dg.AssetMaterialization(KEY, partition=key, metadata={"rows": 96})
            ),
        )
        entries.append(
            EventLogEntry(
                None, "DEBUG", "", run_id, time.time(), job_name="__ASSET_JOB", dagster_event=event
            )
        )
    for start in range(0, len(entries), 2000):
        instance.event_log_storage.store_event_batch(entries[start : start + 2000])
    return len(entries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument(
        "--profile", action="store_true", help="print where one tick and one audit spend their time"
    )
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    symbols = tuple(f"SYM{i:04d}USDT" for i in range(1, args.symbols + 1))
    settings = Settings(symbols=symbols, history_start=today - timedelta(days=365 * args.years))
    partitions = day_symbol_partitions(settings)
    with throwaway_postgres() as server, tempfile.TemporaryDirectory() as home:
        warehouse_url = fresh_database(server, "crypto")
        storage = dagster_storage_url(server.create_database("dagster"))
        Path(home, "dagster.yaml").write_text(
            f"storage:\n  postgres:\n    postgres_url: {storage}\ntelemetry:\n  enabled: false\n"
        )
        os.environ["DAGSTER_HOME"] = home
        with dg.DagsterInstance.get() as instance:
            keys = partitions.get_partition_keys()
            began = time.monotonic()
            seeded = seed(instance, keys)
            seeding = time.monotonic() - began
            os.environ["DATABASE_URL"] = warehouse_url
            defs = build_definitions(settings)
            sensor = defs.get_sensor_def("candles_15m_catch_up")
            resources = {"warehouse": WarehouseResource(database_url=warehouse_url)}
            ticks, requested = [], 0
            for _ in range(5):
                context = dg.build_sensor_context(
                    instance=instance, resources=resources, definitions=defs
                )
                began = time.monotonic()
                result = sensor.evaluate_tick(context)
                ticks.append(time.monotonic() - began)
                requested = len(result.run_requests or ())
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                sensor.evaluate_tick(
                    dg.build_sensor_context(
                        instance=instance, resources=resources, definitions=defs
                    )
                )
                partition_status(settings, warehouse_url)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            audits = []
            for _ in range(3):
                began = time.monotonic()
                partition_status(settings, warehouse_url)
                audits.append(time.monotonic() - began)
    load = os.getloadavg()[0]
    report(
        f"catch-up at scale: {len(symbols)} symbols x {len(keys) // len(symbols)} days = "
        f"{len(keys):,} partitions per asset",
        [
            ("materializations seeded", f"{seeded:,} in {seeding:.1f} s"),
            (
                "sensor tick, median of 5",
                f"{median(ticks):.2f} s (runs: {', '.join(f'{t:.2f}' for t in ticks)}); {requested} run requests",
            ),
            (
                "crypto audit partition status, median of 3",
                f"{median(audits):.2f} s (runs: {', '.join(f'{t:.2f}' for t in audits)})",
            ),
            ("load average (1 min)", f"{load:.1f}"),
        ],
    )


if __name__ == "__main__":
    main()
