"""The stream collector at Binance's real cadence: N symbols (200 or 2,000), a push per symbol every 2 s.

Three processes, as in production: the simulator (``crypto simulator --extra-symbols N``, wall
clock, enforcing the exchange's stream rules: 1,024 streams per connection, 5 incoming
messages a second, 8 KB request lines, 300 connection attempts per 5 minutes), the collector
(``crypto stream`` with the default settings, or ``--flush-interval``) and a throwaway PostgreSQL/TimescaleDB with
``track_commit_timestamp`` on. Figures:

* event-to-row latency: commit time of the transaction that wrote a row minus the event time
  the exchange stamped on the push (``E``; the simulator pushes when its clock reaches it).
  For ``price_samples`` (one row per push) and for the final push of each ``candles_1m`` minute
  (``E`` = the minute's end). Read from PostgreSQL afterwards, so no observer polls the tables;
* collector CPU as a share of one core (``/proc/<pid>/stat``) and its resident memory, sampled
  every 30 s to show the trend;
* rows written per second: inserts + updates of ``candles_1m`` and ``price_samples`` (their
  TimescaleDB chunks included) from ``pg_stat_user_tables``; the collector's staging tables
  (temporary) and its heartbeat row are left out. Beside them, the transactions committed a
  second (``pg_stat_database``: the collector's writes, heartbeats included);
* the load average (1 min) every 30 s of the run: the machine is shared.

* then a reconnect storm: the simulator drops every connection at once; the time until every
  symbol pushes again (the first new event time per symbol) and until every symbol has a new
  row in the table, and the simulator's counts of broken rules (connections closed for too
  many messages or a missing pong, refused requests or streams, 429s on connecting).

The first ``--warmup`` seconds (connect, caches) are left out of every figure.

    uv run python -m bench.bench_stream                    # 10 minutes, 200 symbols
    uv run python -m bench.bench_stream --symbols 2000 --minutes 10
    uv run python -m bench.bench_stream --minutes 3 --symbols 50
    uv run python -m bench.bench_stream --symbols 2000 --minutes 3 --flush-interval 0.01
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg2
import yaml

from bench.harness import fresh_database, report, simulator_process, throwaway_postgres
from crypto_assets.warehouse.db import scalar

STREAMS_PER_CONNECTION = 1024
BROKEN_RULES = (
    "closed_message_rate",
    "closed_pong_timeout",
    "requests_refused",
    "status_400",
    "status_429",
)
STORM_TIMEOUT_S = 120.0


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def rows_and_commits(url: str) -> tuple[int, int]:
    """Rows inserted + updated in ``candles_1m`` and ``price_samples`` so far, and transactions
    committed in the database (the collector's writes, give or take this query's own)."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT sum(n_tup_ins + n_tup_upd) FROM pg_stat_user_tables WHERE schemaname NOT LIKE 'pg_temp%%'"
            " AND relname NOT IN ('stream_heartbeats', 'schema_migrations')"
        )
        rows = scalar(cur)
        cur.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        commits = scalar(cur)
    conn.close()
    return int(rows or 0), int(commits)


def latencies(url: str, since_s: float, until_s: float) -> dict[str, tuple[float, float, int]]:
    """(p50 s, p99 s, rows) of event-to-commit latency per table, for events in [since, until)."""
    final_push = "open_time + interval '1 minute'"  # E of a minute's final push
    queries = {
        "price_samples (every push)": "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - sampled_at)"
        " FROM price_samples WHERE sampled_at >= to_timestamp(%s) AND sampled_at < to_timestamp(%s)",
        "candles_1m (final push)": f"SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - ({final_push}))"
        f" FROM candles_1m WHERE is_closed AND {final_push} >= to_timestamp(%s)"
        f" AND {final_push} < to_timestamp(%s)",
    }
    out = {}
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for label, sql in queries.items():
            cur.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d),"
                f" percentile_cont(0.99) WITHIN GROUP (ORDER BY d), count(*) FROM ({sql}) AS t(d)",
                (since_s, until_s),
            )
            ((p50, p99, n),) = cur.fetchall()
            out[label] = (float(p50 or 0), float(p99 or 0), n)
    conn.close()
    return out


def back_after_storm(url: str, api_url: str, symbols: int) -> tuple[float, float, dict[str, int]]:
    """Drop every stream connection at once; returns the seconds until every symbol pushed again
    (its first event time after the drop), until every symbol had a new row in the table (wall
    clock), and the simulator's counts of broken rules."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            dropped_at = time.time()
            httpx.post(f"{api_url}/_sim/stream", json={"drop": True}, timeout=10).raise_for_status()
            while True:
                cur.execute(
                    "SELECT count(*), max(first) FROM (SELECT min(sampled_at) AS first FROM price_samples"
                    " WHERE sampled_at > to_timestamp(%s) GROUP BY symbol) AS t",
                    (dropped_at,),
                )
                ((back, last_first),) = cur.fetchall()
                if back == symbols:
                    in_table_s = time.time() - dropped_at
                    break
                if time.time() - dropped_at > STORM_TIMEOUT_S:
                    raise RuntimeError(
                        f"only {back} of {symbols} symbols pushed again within {STORM_TIMEOUT_S:g} s"
                    )
                time.sleep(0.1)  # the benchmark's own poll, after the measured run
    finally:
        conn.close()
    counts = httpx.get(f"{api_url}/_sim/stream", timeout=10).json()
    return (
        last_first.timestamp() - dropped_at,
        in_table_s,
        {name: counts.get(name, 0) for name in BROKEN_RULES},
    )


def enable_commit_timestamps(server) -> None:
    conn = psycopg2.connect(server.url())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    conn.close()
    server.stop()
    server.start()


def run(minutes: float, symbols: int, warmup_s: float, flush_interval_s: float | None) -> None:
    names = [f"SYM{i:04d}USDT" for i in range(1, symbols + 1)]
    with (
        throwaway_postgres() as server,
        tempfile.TemporaryDirectory(prefix="crypto-bench-stream-") as tmp,
    ):
        enable_commit_timestamps(server)
        url = fresh_database(server, "stream_bench")
        config = Path(tmp) / "crypto.yaml"
        # history_start today: the partitions (symbols x days) stay within the platform's limit
        # at any symbol count (the collector does not use it)
        settings = {"symbols": names, "history_start": datetime.now(UTC).date()}
        if flush_interval_s is not None:
            settings["stream_flush_interval_seconds"] = flush_interval_s
        config.write_text(yaml.safe_dump(settings))
        with simulator_process("--extra-symbols", str(symbols), "--no-limits") as api_url:
            env = {
                **os.environ,
                "CRYPTO_CONFIG": str(config),
                "DATABASE_URL": url,
                "BINANCE_API_URL": api_url,
                "BINANCE_WS_URL": "ws" + api_url[len("http") :],
                "DAGSTER_HOME": tmp,
            }
            with open(Path(tmp) / "stream.log", "wb") as log:
                collector = subprocess.Popen(
                    [sys.executable, "-m", "crypto_assets.cli", "stream"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    time.sleep(warmup_s)  # a benchmark's warm-up: nothing waits on it
                    if collector.poll() is not None:
                        raise RuntimeError(
                            f"the collector exited: {(Path(tmp) / 'stream.log').read_text()[-2000:]}"
                        )
                    began_wall, began_cpu, (began_rows, began_commits) = (
                        time.time(),
                        process_cpu_s(collector.pid),
                        rows_and_commits(url),
                    )
                    memory = [(0.0, rss_mb(collector.pid))]
                    loads = [os.getloadavg()[0]]
                    end = began_wall + minutes * 60
                    while (left := end - time.time()) > 0:
                        time.sleep(min(30.0, left))
                        memory.append((time.time() - began_wall, rss_mb(collector.pid)))
                        loads.append(os.getloadavg()[0])
                    wall = time.time() - began_wall
                    cpu = process_cpu_s(collector.pid) - began_cpu
                    rows_now, commits_now = rows_and_commits(url)
                    rows, commits = rows_now - began_rows, commits_now - began_commits
                    pushed_again_s, in_table_s, broken = back_after_storm(url, api_url, symbols)
                finally:
                    collector.terminate()
                    collector.wait(30)
        figures = latencies(url, began_wall, began_wall + wall - 5)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    connections = math.ceil(symbols / STREAMS_PER_CONNECTION)
    rows_out = [
        ("symbols / connections", f"{symbols} / {connections}"),
        ("measured", f"{wall / 60:.1f} min after {warmup_s:.0f} s warm-up"),
    ]
    for label, (p50, p99, n) in figures.items():
        rows_out.append(
            (f"latency {label}", f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms ({n} rows)")
        )
    rows_out += [
        ("collector CPU", f"{cpu / wall * 100:.1f} % of one core ({cpu:.1f} s in {wall:.0f} s)"),
        (
            "rows written",
            (
                f"{rows / wall:.0f} rows/s (inserts + updates, candles_1m + price_samples)"
                f" in {commits / wall:.1f} transactions/s"
            ),
        ),
        (
            "collector RSS",
            ", ".join(f"{t / 60:.1f} min {mb:.1f} MB" for t, mb in memory[:-1:4] + memory[-1:]),
        ),
        (
            f"reconnect storm ({connections} connections dropped)",
            (
                f"every symbol pushing again after {pushed_again_s:.1f} s,"
                f" every symbol in the table after {in_table_s:.1f} s"
            ),
        ),
        (
            "rules broken (simulator's counts)",
            ", ".join(f"{k} {v}" for k, v in broken.items() if v) or "none",
        ),
        (
            "load average (1 min) during the run",
            (
                f"mean {statistics.mean(loads):.1f}, min {min(loads):.1f}, max {max(loads):.1f}"
                f" (every 30 s); at the end {load}"
            ),
        ),
    ]
    report("Stream collector at real cadence", rows_out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="measured duration (default %(default)s)"
    )
    parser.add_argument(
        "--symbols", type=int, default=200, help="synthetic symbols streamed (default %(default)s)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=30.0,
        help="seconds left out at the start (default %(default)s)",
    )
    parser.add_argument(
        "--flush-interval",
        type=float,
        help="stream_flush_interval_seconds for the collector (default: the product's default)",
    )
    args = parser.parse_args()
    run(args.minutes, args.symbols, args.warmup, args.flush_interval)


if __name__ == "__main__":
    main()
