"""Bulk history from the archive, end to end through Dagster, against plain COPY (issue 16).

All figures in one run, against one simulator process (REST, archive) and one throwaway
PostgreSQL:

(a) ``crypto backfill candles_1m`` 1 year x 2 symbols through the archive, into an empty
    warehouse and a Dagster instance without runs (the project's dagster.yaml, its tables
    created), wall time of the whole command; as a ratio to a plain single-stream COPY of the
    same rows into the same emptied table (COPY time / command time); the command sends binary
    COPY rows, so the same COPY in binary format is printed beside it;
(b) the same with ``BINANCE_ARCHIVE_URL`` empty: REST only, under Binance's weight limit;
(c) 6 years (2,190 days) of 1m for one symbol through the archive, end to end, beside
    freqtrade's 15 s (its PR #10858, download to files, no database) and as a ratio to COPY;
(d) klines weight the simulator charged during (a) and (c): archived days cost none;
(e) Dagster's overhead per partition (events, planned events, partition status): a ranged run of
    a stand-in asset with the real partitions, checks and per-partition metadata that does no
    work, 730 partitions against 2, ``(T(730) - T(2)) / 728``, plus reading every partition's
    status as the UI does; next to the same before this issue (``storage: postgres``, no event
    batching), measured with 200 partitions (it costs about a minute at 730).

Each scenario runs once uncounted first, so the simulator answers from its caches (Binance's
CPU is not on this machine in production), then ``--repeat`` times; medians are printed. The
command and the COPY each start after a CHECKPOINT, so neither pays for the other's writes.

    uv run python -m bench.bench_archive [--repeat 3] [--only a --only c]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from bench.harness import (
    fresh_database,
    median,
    report,
    simulator_process,
    throwaway_postgres,
    timed_backfill,
)
from crypto_assets.assets.candles_1m_checks import candles_1m_check_specs
from crypto_assets.assets.partition_metadata import add_partition_metadata
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.environment import DAGSTER_YAML, EVENT_BATCH_SIZE, dagster_storage_url
from crypto_assets.settings import Settings
from crypto_assets.warehouse.db import connect

YEAR = (date(2023, 1, 1), date(2023, 12, 31))
SIX_YEARS_DAYS = 2190
FREQTRADE_SECONDS = 15.0
OLD_DAGSTER_YAML = (
    "storage:\n  postgres:\n    postgres_url:\n      env: "
    "DAGSTER_POSTGRES_URL\ntelemetry:\n  enabled: false\n"
)


@contextmanager
def dagster_home(server, name: str, yaml_text: str | None = None):
    """A DAGSTER_HOME with the project's dagster.yaml (or ``yaml_text``) over a fresh database,
    its tables already created (as on any instance after its first start: not timed)."""
    storage = dagster_storage_url(fresh_database(server, name))
    with tempfile.TemporaryDirectory(prefix="crypto-bench-home-") as home:
        if yaml_text is None:
            shutil.copyfile(DAGSTER_YAML, Path(home) / "dagster.yaml")
        else:
            (Path(home) / "dagster.yaml").write_text(yaml_text)
        os.environ["DAGSTER_POSTGRES_URL"] = storage
        with dg.DagsterInstance.from_config(home) as instance:
            instance.get_runs(limit=1)
        yield home, storage


def backfill(
    server, sim_url: str, symbols: tuple[str, ...], first: date, last: date, archive: bool
) -> tuple[float, dict, str]:
    """``crypto backfill candles_1m`` in a subprocess; (seconds, simulator stats, warehouse URL)."""
    db_url = fresh_database(server, "bench_archive")
    httpx.post(f"{sim_url}/_sim/reset").raise_for_status()
    with dagster_home(server, "bench_archive_dagster") as (home, storage):
        config = Path(home) / "crypto.yaml"
        config.write_text(f"symbols: [{', '.join(symbols)}]\nhistory_start: {first.isoformat()}\n")
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DAGSTER_POSTGRES_URL": storage,
            "DAGSTER_HOME": home,
            "CRYPTO_CONFIG": str(config),
            "BINANCE_API_URL": sim_url,
            "BINANCE_ARCHIVE_URL": sim_url if archive else "",
        }
        env.pop("DAGSTER_EVENT_BATCH_SIZE", None)  # the command sets it, as the platform does
        # Cached bytecode, as any install has (the Docker image compiles it): without it each
        # start compiles ~1,500 modules from source, 2.4 s here. The warm-up pass writes it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        checkpoint(db_url)
        seconds = timed_backfill("candles_1m", first, last, env)
    return seconds, httpx.get(f"{sim_url}/_sim/stats").json(), db_url


def checkpoint(db_url: str) -> None:
    """Flush the server's dirty pages before a timed part, so that neither the command nor the
    COPY after it pays for the other's writes (a checkpoint landing inside one of them moved
    the baseline COPY between 4.9 and 7.9 s)."""
    conn = connect(db_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CHECKPOINT")
    finally:
        conn.close()


def plain_copy(db_url: str) -> tuple[float, float, int]:
    """Dump candles_1m, empty it, COPY the same rows back in one stream, as text (the baseline)
    and, for comparison, in binary (the format the command sends): (text s, binary s, rows)."""
    conn = connect(db_url)
    try:
        dumps = {}
        with conn.cursor() as cur:
            for kind, buffer, option in (
                ("text", io.StringIO(), ""),
                ("binary", io.BytesIO(), " (FORMAT binary)"),
            ):
                cur.copy_expert(f"COPY (SELECT * FROM candles_1m) TO STDOUT{option}", buffer)
                dumps[kind] = (buffer.getvalue(), option)
        seconds = {}
        for kind, (data, option) in dumps.items():
            with conn, conn.cursor() as cur:
                cur.execute("TRUNCATE candles_1m")
            checkpoint(db_url)
            source = io.StringIO(data) if isinstance(data, str) else io.BytesIO(data)
            began = time.perf_counter()
            with conn, conn.cursor() as cur:
                cur.copy_expert(f"COPY candles_1m FROM STDIN{option}", source)
            seconds[kind] = time.perf_counter() - began
        return seconds["text"], seconds["binary"], str(dumps["text"][0]).count("\n")
    finally:
        conn.close()


def scenario(server, sim_url, label, symbols, first, last, archive, repeat, baseline=True) -> dict:
    backfill(server, sim_url, symbols, first, last, archive)  # warm-up, not counted
    walls, copies, binaries, ratios, weights = [], [], [], [], []
    rows = 0
    for attempt in range(repeat):
        seconds, stats, db_url = backfill(server, sim_url, symbols, first, last, archive)
        walls.append(seconds)
        weights.append(stats.get("weight /api/v3/klines", 0))
        line = (
            f"{label} run {attempt + 1}: {seconds:.1f} s, klines weight {weights[-1]},"
            f" {stats['archive_files']} archive files ({stats['archive_bytes'] / 1e6:.0f} MB)"
        )
        if baseline:
            copy_seconds, binary_seconds, rows = plain_copy(db_url)
            copies.append(copy_seconds)
            binaries.append(binary_seconds)
            ratios.append(copy_seconds / seconds)
            line += (
                f"; plain COPY of the same {rows:,} rows {copy_seconds:.1f} s, ratio {ratios[-1]:.2f}"
                f" (binary COPY {binary_seconds:.1f} s)"
            )
        print(line + f" (load {os.getloadavg()[0]:.1f})", flush=True)
    return {
        "wall": median(walls),
        "copy": median(copies) if copies else None,
        "binary": median(binaries) if binaries else None,
        "ratio": median(ratios) if ratios else None,
        "weight": max(weights),
        "rows": rows,
    }


def dagster_overhead(
    server, yaml_text: str | None, batch_size: str, partitions: int
) -> tuple[float, float]:
    """Per partition: (run overhead ms, status read ms) of a no-work ranged run of ``partitions``."""
    settings = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=YEAR[0])
    partitions_def = day_symbol_partitions(settings)
    specs = candles_1m_check_specs("candles_1m")

    @dg.asset(name="candles_1m", partitions_def=partitions_def, check_specs=specs)
    def stand_in(context):
        add_partition_metadata(
            context,
            {
                key: {
                    "source": "archive",
                    "archive_rows": 1440,
                    "rest_rows": 0,
                    "archive_file": "BTCUSDT-1m-2023-01.zip",
                }
                for key in context.partition_keys
            },
        )
        return dg.MaterializeResult(
            metadata={"rows": 1440 * len(context.partition_keys)},
            check_results=[
                dg.AssetCheckResult(check_name=spec.name, passed=True) for spec in specs
            ],
        )

    def run(instance, days: int) -> float:
        last = YEAR[0] + timedelta(days=days - 1)
        began = time.perf_counter()
        result = dg.materialize(
            [stand_in],
            instance=instance,
            tags={
                ASSET_PARTITION_RANGE_START_TAG: f"{YEAR[0]}|BTCUSDT",
                ASSET_PARTITION_RANGE_END_TAG: f"{last}|ETHUSDT",
            },
        )
        assert result.success
        return time.perf_counter() - began

    previous = os.environ.get("DAGSTER_EVENT_BATCH_SIZE")
    os.environ["DAGSTER_EVENT_BATCH_SIZE"] = batch_size
    try:
        with (
            dagster_home(server, "bench_overhead", yaml_text) as (home, _),
            dg.DagsterInstance.from_config(home) as instance,
        ):
            run(instance, 1)  # creates the tables and asset records
            small, large = run(instance, 1), run(instance, partitions // 2)
            keys = partitions_def.get_partition_keys()[:partitions]
            began = time.perf_counter()
            status = instance.get_status_by_partition(
                dg.AssetKey("candles_1m"), keys, partitions_def
            )
            status_seconds = time.perf_counter() - began
            materialized = [
                key
                for key, s in (status or {}).items()
                if s == dg.AssetPartitionStatus.MATERIALIZED
            ]
            assert len(materialized) == partitions
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_EVENT_BATCH_SIZE", None)
        else:
            os.environ["DAGSTER_EVENT_BATCH_SIZE"] = previous
    return (large - small) / (partitions - 2) * 1000, status_seconds / partitions * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only",
        action="append",
        choices=["a", "b", "c", "e"],
        help="measure only these figures (repeatable; (d) comes with (a) and (c)); default: all",
    )
    args = parser.parse_args(argv)
    only = set(args.only or "abce")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    six_years = (yesterday - timedelta(days=SIX_YEARS_DAYS - 1), yesterday)
    two = ("BTCUSDT", "ETHUSDT")
    rows: list[tuple[str, str]] = []
    with (
        throwaway_postgres(durable=True) as server,
        simulator_process("--archive-cache-mb", "1024", "--cache-mb", "512") as url,
    ):
        print(
            f"PostgreSQL {'with TimescaleDB' if server.timescaledb else 'plain'}; simulator {url}",
            flush=True,
        )
        if "e" in only:
            rows += overhead_rows(server, args.repeat)
        if "a" in only:
            year = scenario(server, url, "(a) archive", two, *YEAR, True, args.repeat)
            rows += [
                (
                    (
                        f"(a) crypto backfill candles_1m {YEAR[0]}..{YEAR[1]} x 2 symbols"
                        f" via archive ({year['rows']:,} rows)"
                    ),
                    f"{year['wall']:.1f} s",
                ),
                ("    plain single-stream COPY of the same rows", f"{year['copy']:.1f} s"),
                ("    ratio COPY time / backfill time (target >= 0.8)", f"{year['ratio']:.2f}"),
                ("    for comparison: the same COPY in binary format", f"{year['binary']:.1f} s"),
                ("(d) klines weight spent in (a)", f"{year['weight']}"),
            ]
        if "b" in only:
            rest = scenario(server, url, "(b) REST", two, *YEAR, False, args.repeat)
            rows.append(
                (
                    "(b) the same, REST only (BINANCE_ARCHIVE_URL empty)",
                    f"{rest['wall']:.1f} s (ratio {rest['ratio']:.2f})",
                )
            )
        if "c" in only:
            six = scenario(server, url, "(c) 6 years", ("BTCUSDT",), *six_years, True, args.repeat)
            rows += [
                (
                    f"(c) 6 years of 1m, BTCUSDT {six_years[0]}..{six_years[1]} via archive ({six['rows']:,} rows)",
                    f"{six['wall']:.1f} s",
                ),
                (
                    "    freqtrade download-data, 6 years of 1m (files, no database)",
                    f"{FREQTRADE_SECONDS:.0f} s",
                ),
                (
                    "    plain COPY of the same rows / ratio (binary COPY)",
                    f"{six['copy']:.1f} s / {six['ratio']:.2f} ({six['binary']:.1f} s)",
                ),
                ("(d) klines weight spent in (c)", f"{six['weight']}"),
            ]
    report(f"issue 16: bulk history through the archive, medians of {args.repeat}", rows)


def overhead_rows(server, repeat: int) -> list[tuple[str, str]]:
    """(e): the figures of ``dagster_overhead``, now and before this issue."""
    overhead = [dagster_overhead(server, None, EVENT_BATCH_SIZE, 730) for _ in range(repeat)]
    before = dagster_overhead(server, OLD_DAGSTER_YAML, "0", 200)
    print(
        "(e) Dagster overhead per partition: "
        f"{[f'{o:.2f}+{s:.3f} ms' for o, s in overhead]}; before: {before[0]:.1f}+{before[1]:.3f} ms",
        flush=True,
    )
    return [
        (
            "(e) Dagster overhead per partition, 730-partition run (target <= 5 ms)",
            f"{median([o for o, _ in overhead]):.2f} ms + status {median([s for _, s in overhead]):.3f} ms",
        ),
        (
            "    before (storage: postgres, no event batching), 200-partition run",
            f"{before[0]:.1f} ms + status {before[1]:.3f} ms",
        ),
    ]


if __name__ == "__main__":
    main()
