"""Cost at scale: one catch-up sensor tick and ``crypto audit``'s partition status at 100 symbols x 3 years.

A throwaway PostgreSQL holds the warehouse and the Dagster instance (as ``make up`` does, with
the project's ``dagster.yaml``). The instance is seeded with one materialization per partition
of every partitioned asset (about 110,000 each), but for a hole every 97th partition, so the
tick has real work to find. Then:

- the sensor tick: ``candles_15m_catch_up`` evaluated as the daemon does, median of 5;
- the audit's partition status (``crypto audit``'s ``partition_status``, every partitioned
  asset), median of 3: with Dagster's cached statuses current (as the sensors and the UI keep
  them), then after one new materialization of each asset (each cache refreshed on the way);
- the whole ``crypto audit --json`` command, from interpreter start to exit, median of 3 after
  one unmeasured run (the warehouse tables are empty: this is the partition status, the
  imports and the instance, not the table scans), then again after a new materialization of
  each asset.

    uv run python -m bench.bench_catch_up_scale [--symbols 100] [--years 3] [--profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
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
from crypto_assets.environment import DAGSTER_YAML, dagster_storage_url
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings

KEY = dg.AssetKey("candles_15m")


def seed(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: Sequence[str], step: int = 97
) -> int:
    """One materialization per partition, skipping every ``step``-th (the holes); returns how many."""
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    run_id = "bench-seed"
    entries = []
    for index, key in enumerate(keys):
        if step and index % step == 0:
            continue
        event = DagsterEvent(
            DagsterEventType.ASSET_MATERIALIZATION.value,
            "__ASSET_JOB",
            event_specific_data=StepMaterializationData(
                dg.AssetMaterialization(asset_key, partition=key, metadata={"rows": 96})
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


def figure(times: list[float]) -> str:
    """'0.59 s (runs: 0.56, 0.64, 0.59)': the median, then every run."""
    return f"{median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def audit_command(env: dict[str, str]) -> float:
    """Wall time of one ``crypto audit --json`` process, from interpreter start to exit."""
    began = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "crypto_assets.cli", "audit", "--json"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - began


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
        os.environ["DAGSTER_POSTGRES_URL"] = dagster_storage_url(server.create_database("dagster"))
        shutil.copyfile(DAGSTER_YAML, Path(home, "dagster.yaml"))
        os.environ["DAGSTER_HOME"] = home
        os.environ["DATABASE_URL"] = warehouse_url
        defs = build_definitions(settings)
        assets = sorted(s.key for s in defs.resolve_all_asset_specs() if s.partitions_def)
        with dg.DagsterInstance.get() as instance:
            keys = partitions.get_partition_keys()
            began = time.monotonic()
            seeded = sum(seed(instance, asset, keys) for asset in assets)
            seeding = time.monotonic() - began
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
            began = time.monotonic()
            partition_status(settings, warehouse_url)  # the first read builds the other caches
            first_audit = time.monotonic() - began
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
            refreshed = []
            for hole in range(3):  # fill one hole of each asset, then audit
                for asset in assets:
                    seed(instance, asset, [keys[97 * hole]], step=0)
                began = time.monotonic()
                partition_status(settings, warehouse_url)
                refreshed.append(time.monotonic() - began)
        config = Path(home, "crypto.yaml")
        config.write_text(
            f"symbols: [{', '.join(symbols)}]\nhistory_start: {settings.history_start}\n"
        )
        env = {**os.environ, "CRYPTO_CONFIG": str(config), "CRYPTO_DATA_DIR": home}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules load from bytecode
        audit_command(env)  # (the first may write the bytecode)
        commands = [audit_command(env) for _ in range(3)]
        commands_after_change = []
        with dg.DagsterInstance.get() as instance:
            for hole in range(3, 6):  # fill one more hole of each asset, then run the command
                for asset in assets:
                    seed(instance, asset, [keys[97 * hole]], step=0)
                commands_after_change.append(audit_command(env))
    load = os.getloadavg()[0]
    report(
        f"catch-up at scale: {len(symbols)} symbols x {len(keys) // len(symbols)} days = "
        f"{len(keys):,} partitions per asset",
        [
            (
                "materializations seeded",
                f"{seeded:,} over {len(assets)} assets in {seeding:.0f} s",
            ),
            (
                "sensor tick, median of 5",
                f"{figure(ticks)}; {requested} run requests",
            ),
            (
                f"audit partition status, first read (Dagster builds {len(assets) - 1} caches)",
                f"{first_audit:.2f} s",
            ),
            (
                "audit partition status, caches current, median of 3",
                figure(audits),
            ),
            (
                "audit partition status after a new materialization of each asset, median of 3",
                figure(refreshed),
            ),
            (
                "whole `crypto audit --json` process, median of 3",
                figure(commands),
            ),
            (
                "the same after a new materialization of each asset, median of 3",
                figure(commands_after_change),
            ),
            ("load average (1 min) at the end", f"{load:.1f}"),
        ],
    )


if __name__ == "__main__":
    main()
