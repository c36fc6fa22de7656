"""Writers of the same partitions take turns: two runs of a rollup at once, and a clear during a run."""

import os
import subprocess
import sys
import time

import psycopg2

from crypto_assets.warehouse import db
from crypto_assets.warehouse.locks import lock_symbols
from crypto_assets_tests.assets.helpers import materialize_range, test_settings


def crypto(args, tmp_path, db_url, simulator, name):
    config = tmp_path / "crypto.yaml"
    config.write_text("symbols: [BTCUSDT, ETHUSDT]\nhistory_start: 2024-01-01\n")
    home = tmp_path / name
    home.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DAGSTER_HOME": str(home),
        "CRYPTO_CONFIG": str(config),
        "BINANCE_API_URL": simulator.url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "crypto_assets.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def scalar(db_url, sql):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return db.scalar(cur)


def test_two_runs_of_the_same_rollup_partitions_at_once_both_succeed_and_the_table_is_exact(
    simulator, db_url, tmp_path
):
    assert materialize_range(
        "candles_15m",
        test_settings(),
        simulator.url,
        db_url,
        "2024-03-01|BTCUSDT",
        "2024-03-10|ETHUSDT",
    ).success
    argv = ["backfill", "candles_1h", "--start", "2024-03-01", "--end", "2024-03-10"]
    processes = [crypto(argv, tmp_path, db_url, simulator, f"home{i}") for i in range(2)]
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert scalar(db_url, "SELECT count(*) FROM candles_1h") == 10 * 24 * 2
    assert (
        scalar(db_url, "SELECT count(DISTINCT (symbol, open_time)) FROM candles_1h") == 10 * 24 * 2
    )


def test_a_clear_waits_for_the_run_writing_the_same_symbol(simulator, db_url, tmp_path):
    assert materialize_range(
        "candles_15m",
        test_settings(),
        simulator.url,
        db_url,
        "2024-03-01|BTCUSDT",
        "2024-03-01|BTCUSDT",
    ).success
    writer = psycopg2.connect(
        db_url
    )  # a run in the middle of its write: it holds the symbol's lock
    try:
        with writer.cursor() as cur:
            lock_symbols(cur, "candles_15m", ["BTCUSDT"])
            clear = crypto(
                ["clear", "--raw", "--symbol", "BTCUSDT", "--yes"],
                tmp_path,
                db_url,
                simulator,
                "home",
            )
            deadline = time.monotonic() + 60
            waiting = 0
            while waiting == 0 and clear.poll() is None and time.monotonic() < deadline:
                cur.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND pid <> pg_backend_pid()"
                )
                waiting = db.scalar(cur)
            assert waiting == 1, "the clear did not wait on the run's lock"
            assert clear.poll() is None
            cur.execute("SELECT count(*) FROM candles_15m")
            assert db.scalar(cur) == 96  # nothing deleted under the run
        writer.commit()  # the run ends: the clear goes on
    finally:
        writer.close()
    output = clear.communicate(timeout=120)[0]
    assert clear.returncode == 0, output
    assert scalar(db_url, "SELECT count(*) FROM candles_15m") == 0
