"""``crypto backfill candles_15m`` over 180 days for 2 symbols from an empty database (issue 2).

Each repetition gets a fresh database and a fresh Dagster instance stored in PostgreSQL (as
``make up`` sets it up), runs the real command in a subprocess against the simulator, and counts
the Dagster runs it recorded. Prints the median wall time and the run count.

    uv run python -m bench.bench_backfill [--days 180] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from bench.harness import (
    fresh_database,
    median,
    report,
    simulator_process,
    throwaway_postgres,
    timed_backfill,
)
from crypto_assets.environment import DAGSTER_YAML, dagster_storage_url


def run_once(server, sim_url: str, days: int, index: int) -> tuple[float, int]:
    db_url = fresh_database(server, f"bench_backfill_{index}")
    dagster_url = fresh_database(server, f"bench_dagster_{index}")
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    with tempfile.TemporaryDirectory(prefix="crypto-bench-home-") as home:
        shutil.copyfile(DAGSTER_YAML, Path(home) / "dagster.yaml")
        config = Path(home) / "crypto.yaml"
        config.write_text(f"symbols: [BTCUSDT, ETHUSDT]\nhistory_start: {start.isoformat()}\n")
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DAGSTER_POSTGRES_URL": dagster_url,
            "DAGSTER_HOME": home,
            "CRYPTO_CONFIG": str(config),
            "BINANCE_API_URL": sim_url,
        }
        seconds = timed_backfill("candles_15m", start, end, env)
        os.environ["DAGSTER_POSTGRES_URL"] = dagster_storage_url(dagster_url)
        with dg.DagsterInstance.from_config(home) as instance:
            runs = len(instance.get_runs())
    return seconds, runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    walls, run_counts = [], []
    with throwaway_postgres(durable=True) as server, simulator_process() as url:
        for index in range(args.repeat):
            seconds, runs = run_once(server, url, args.days, index)
            walls.append(seconds)
            run_counts.append(runs)
            print(f"run {index + 1}: {seconds:.1f} s, {runs} Dagster run(s)", flush=True)
    report(
        f"crypto backfill candles_15m: {args.days} days x 2 symbols from an empty database, median of {args.repeat}",
        [
            ("wall time (target <= 30 s)", f"{median(walls):.1f} s"),
            ("Dagster runs (target <= 4)", f"{max(run_counts)}"),
        ],
    )


if __name__ == "__main__":
    main()
