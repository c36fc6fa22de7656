"""The fault suite's table: rows lost, duplicates, holes, runs left STARTED, bans (issue 15).

Runs every scenario of ``crypto_assets_tests/faults/fault_suite.py`` (the same ones ``make
test`` asserts to be all 0) in a fresh lab: a throwaway PostgreSQL, a Dagster daemon doing run
monitoring, the simulators. Prints one row per scenario with the five counts, its wall time and
what the fault did, then the whole suite's wall time and the load average. ``--repeat N`` runs
the suite N times, each in a fresh lab, and prints the counts' maximum and the median times.

    uv run python -m bench.bench_faults [--repeat 1] [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import median, throwaway_postgres
from crypto_assets_tests.faults.fault_suite import SCENARIOS, FaultLab, Outcome

COLUMNS = ("rows_lost", "duplicate_rows", "holes", "runs_started", "bans")
HEADER = (
    "| scenario | rows lost | duplicate rows | holes left | runs left STARTED | bans drawn"
    " | wall time | what the fault did |"
)


def run_suite(scenarios: list[str]) -> tuple[list[Outcome], float]:
    """Every scenario in one fresh lab; the outcomes and the suite's wall time (lab included).
    The in-process runs' Dagster event lines go to a log file in the lab, not the terminal."""
    began = time.monotonic()
    with (
        throwaway_postgres() as pg,
        tempfile.TemporaryDirectory(prefix="crypto-bench-faults-") as root,
        FaultLab(Path(root), pg) as lab,
        (Path(root) / "dagster-events.log").open("w") as events,
        contextlib.redirect_stderr(events),
    ):
        outcomes = []
        for name in scenarios:
            outcomes.append(lab.run(name))
            print(f"  {name}: {outcomes[-1].counts} in {outcomes[-1].seconds:.1f} s", flush=True)
    return outcomes, time.monotonic() - began


def table(passes: list[list[Outcome]]) -> list[str]:
    lines = [HEADER, "|" + " --- |" * 8]
    for index, first in enumerate(passes[0]):
        same = [outcomes[index] for outcomes in passes]
        counts = [max(getattr(o.counts, column) for o in same) for column in COLUMNS]
        seconds = median([o.seconds for o in same])
        lines.append(
            f"| {first.scenario} | {' | '.join(str(n) for n in counts)} | {seconds:.1f} s | {first.fault} |"
        )
    return lines


def _load() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="suite runs, each in a fresh lab")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="only these scenarios"
    )
    args = parser.parse_args(argv)
    scenarios = args.scenario or list(SCENARIOS)
    print(f"fault suite, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {_load()}")
    passes, totals = [], []
    for index in range(args.repeat):
        print(f"pass {index + 1}/{args.repeat}:", flush=True)
        outcomes, seconds = run_suite(scenarios)
        passes.append(outcomes)
        totals.append(seconds)
    print()
    print("\n".join(table(passes)))
    print(
        f"\nsuite wall time (lab start included): median {median(totals):.0f} s"
        f" ({', '.join(f'{s:.0f}' for s in totals)}); load average after: {_load()}"
    )


if __name__ == "__main__":
    main()
