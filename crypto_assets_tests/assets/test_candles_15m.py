"""The candles_15m asset against real PostgreSQL and the simulator over HTTP."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg2

from crypto_assets.assets.candle_checks import (
    DAY_COUNTS,
    GAPS,
    OHLC_INVARIANTS,
    ON_GRID,
    check_day_counts,
    check_ohlc_invariants,
    check_on_grid,
)
from crypto_assets.assets.candle_run import candle_checks, measure
from crypto_assets.assets.kline_ingest import IngestStats
from crypto_assets.assets.partition_results import table_stats
from crypto_assets.binance.simulator import SimulatorServer
from crypto_assets.warehouse.db import scalar
from crypto_assets_tests.assets.helpers import (
    check_results,
    materialize_range,
    partition_metadata,
    test_settings,
)
from crypto_assets_tests.metadata import json_entry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DAY_MS = 86_400_000


def count(db_url, where="true"):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM candles_15m WHERE {where}")
        return scalar(cur)


def table_digest(db_url):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT md5(string_agg(c::text, ',' ORDER BY symbol, open_time)) FROM candles_15m c"
        )
        return scalar(cur)


def test_one_run_fills_days_for_both_symbols(simulator, db_url):
    result = materialize_range(
        "candles_15m",
        test_settings(),
        simulator.url,
        db_url,
        "2024-02-01|BTCUSDT",
        "2024-02-10|ETHUSDT",
    )
    assert result.success
    assert count(db_url) == 10 * 96 * 2
    meta = partition_metadata(result)
    assert len(meta) == 20  # one per partition, each with its own figures
    for day in range(1, 11):
        for symbol in ("BTCUSDT", "ETHUSDT"):
            own = meta[f"2024-02-{day:02d}|{symbol}"]
            assert (
                own["rows"] == 96 and own["expected_candles"] == 96 and own["missing_candles"] == 0
            )
            assert own["first_time"] == f"2024-02-{day:02d}T00:00:00+00:00"
            assert own["last_time"] == f"2024-02-{day:02d}T23:45:00+00:00"
    checks = check_results(result)
    assert all(checks[name].passed for name in (ON_GRID, DAY_COUNTS, OHLC_INVARIANTS, GAPS))


def test_rematerializing_never_duplicates(simulator, db_url):
    args = (
        "candles_15m",
        test_settings(),
        simulator.url,
        db_url,
        "2024-02-01|BTCUSDT",
        "2024-02-03|BTCUSDT",
    )
    assert materialize_range(*args).success
    first = table_digest(db_url)
    assert materialize_range(*args).success
    assert count(db_url) == 3 * 96
    assert table_digest(db_url) == first


def test_real_recording_is_stored_digit_for_digit(db_url):
    recorded = json.loads((FIXTURES / "BTCUSDT_15m_klines_2024-08-22_09-01.json").read_text())
    day = [
        row for row in recorded if 1724457600000 <= row[0] < 1724457600000 + DAY_MS
    ]  # 2024-08-24
    assert len(day) == 96
    with SimulatorServer(recordings=True) as sim:
        result = materialize_range(
            "candles_15m",
            test_settings(),
            sim.url,
            db_url,
            "2024-08-24|BTCUSDT",
            "2024-08-24|BTCUSDT",
        )
    assert result.success
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (extract(epoch FROM open_time) * 1000)::bigint, open::text, high::text, low::text, close::text,"
            " volume::text, (extract(epoch FROM close_time) * 1000)::bigint, quote_volume::text, trade_count,"
            " taker_buy_base_volume::text, taker_buy_quote_volume::text FROM candles_15m ORDER BY open_time"
        )
        stored = [list(row) for row in cur.fetchall()]
    assert stored == [row[:11] for row in day]


def test_outage_is_reported_as_a_gap_and_not_filled(simulator, db_url):
    start = 1706918400000 + 6 * 3_600_000  # 2024-02-03 06:00 UTC
    simulator.faults.update(outages=[[start, start + 2 * 3_600_000]])  # two hours, 8 candles
    result = materialize_range(
        "candles_15m",
        test_settings(),
        simulator.url,
        db_url,
        "2024-02-03|BTCUSDT",
        "2024-02-03|BTCUSDT",
    )
    assert result.success
    assert count(db_url) == 96 - 8
    gaps = check_results(result)[GAPS]
    assert not gaps.passed and gaps.severity.value == "WARN"
    assert gaps.metadata["missing_candles"].value == 8
    assert gaps.metadata["gaps"].value == [
        "BTCUSDT 2024-02-03 06:00 .. 2024-02-03 07:45 (8 candles missing)"
    ]


def test_days_before_the_listing_store_what_exists_and_say_so(simulator, db_url):
    settings = test_settings(history_start=date(2017, 8, 1))
    result = materialize_range(
        "candles_15m", settings, simulator.url, db_url, "2017-08-16|BTCUSDT", "2017-08-17|BTCUSDT"
    )
    assert result.success
    assert count(db_url) == 20 * 4  # BTCUSDT's first candle opened 2017-08-17 04:00 UTC
    meta = partition_metadata(result)
    before, listing_day = meta["2017-08-16|BTCUSDT"], meta["2017-08-17|BTCUSDT"]
    assert (
        before["rows"] == 0
        and before["expected_candles"] == 0
        and before["listed_from"] == "2017-08-17 04:00 UTC"
    )
    assert (
        listing_day["rows"] == 80
        and listing_day["expected_candles"] == 80
        and listing_day["missing_candles"] == 0
    )
    assert listing_day["first_time"] == "2017-08-17T04:00:00+00:00"


def test_unknown_symbol_fails_alone_and_the_others_are_materialized(simulator, db_url):
    instance = dg.DagsterInstance.ephemeral()
    settings = test_settings(symbols=("BTCUSDT", "NOPEUSDT"))
    result = materialize_range(
        "candles_15m",
        settings,
        simulator.url,
        db_url,
        "2024-02-01|BTCUSDT",
        "2024-02-02|NOPEUSDT",
        instance,
    )
    assert not result.success
    error = result.failure_data_for_node("candles_15m").error.to_string()
    assert "NOPEUSDT is not listed on the exchange" in error
    assert count(db_url) == 2 * 96 and count(db_url, "symbol = 'NOPEUSDT'") == 0
    assert set(partition_metadata(result)) == {"2024-02-01|BTCUSDT", "2024-02-02|BTCUSDT"}
    assert instance.get_materialized_partitions(dg.AssetKey("candles_15m")) == {
        "2024-02-01|BTCUSDT",
        "2024-02-02|BTCUSDT",
    }


def test_symbol_not_trading_fails_only_its_partitions_naming_its_status(simulator, db_url):
    """BCCBTC is BREAK in the recorded exchangeInfo: BTCUSDT's days still land."""
    settings = test_settings(symbols=("BTCUSDT", "BCCBTC"))
    result = materialize_range(
        "candles_15m", settings, simulator.url, db_url, "2024-02-01|BTCUSDT", "2024-02-03|BCCBTC"
    )
    assert not result.success
    assert (
        "BCCBTC has status BREAK on the exchange, not TRADING"
        in result.failure_data_for_node("candles_15m").error.to_string()
    )
    assert count(db_url, "symbol = 'BTCUSDT'") == 3 * 96
    assert sorted(partition_metadata(result)) == [f"2024-02-0{d}|BTCUSDT" for d in (1, 2, 3)]


def test_unreachable_database_fails_naming_it(simulator, db_url):
    result = materialize_range(
        "candles_15m",
        test_settings(),
        simulator.url,
        "postgresql://postgres@127.0.0.1:9/crypto",
        "2024-02-01|BTCUSDT",
        "2024-02-01|BTCUSDT",
    )
    assert not result.success
    assert "127.0.0.1:9/crypto" in result.failure_data_for_node("candles_15m").error.to_string()


def test_grid_check_fails_on_a_shifted_or_cut_short_candle(pg_conn):
    with pg_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO candles_15m VALUES"
            " ('BTCUSDT', '2024-02-01 00:00+00', '2024-02-01 00:14:59.999+00', '1', '1', '1', "
            "'1', '1', '1', 1, '0', '0'),"
            " ('BTCUSDT', '2024-02-01 00:20+00', '2024-02-01 00:34:59.999+00', '1', '1', '1', "
            "'1', '1', '1', 1, '0', '0'),"  # off the grid
            " ('BTCUSDT', '2024-02-01 00:30+00', '2024-02-01 00:40:00+00', '1', '1', '1', '1', "
            "'1', '1', 1, '0', '0')"  # cut short
        )
        result = check_on_grid(
            cur, "candles_15m", [("BTCUSDT", 1706745600000, 1706745600000 + DAY_MS)], 900_000
        )
    assert not result.passed
    assert result.metadata["off_grid_candles"].value == 2
    assert [e[1] for e in json_entry(result.metadata, "examples")] == [
        "2024-02-01T00:20:00+00:00",
        "2024-02-01T00:30:00+00:00",
    ]


def test_day_count_check_fails_when_the_table_lost_rows_behind_the_run(simulator, db_url):
    result = materialize_range(
        "candles_15m",
        test_settings(),
        simulator.url,
        db_url,
        "2024-02-01|BTCUSDT",
        "2024-02-01|BTCUSDT",
    )
    reported = {
        key: (m["expected_candles"], m["missing_candles"])
        for key, m in partition_metadata(result).items()
    }
    assert reported == {"2024-02-01|BTCUSDT": (96, 0)}
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM candles_15m WHERE open_time = '2024-02-01 12:00+00'")
        window = [("BTCUSDT", 1706745600000, 1706745600000 + DAY_MS)]
        stored = {
            key: stats["rows"]
            for key, stats in table_stats(cur, "candles_15m", "open_time", window).items()
        }
    check = check_day_counts(reported, stored)
    assert not check.passed
    assert check.metadata["examples"].value == [
        {"partition": "2024-02-01|BTCUSDT", "expected": 96, "reported_missing": 0, "stored": 95}
    ]


def test_ohlc_check_lists_offending_rows(pg_conn):
    with pg_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO candles_15m VALUES ('BTCUSDT', '2024-02-01 00:00+00', '2024-02-01 00:14:59.999+00',"
            " '100', '101', '100.5', '100.7', '1', '100', 3, '0.5', '50')"  # low above open
        )
        result = check_ohlc_invariants(
            cur, "candles_15m", [("BTCUSDT", 1706745600000, 1706745600000 + DAY_MS)]
        )
    assert not result.passed
    assert result.metadata["violations"].value == 1
    assert json_entry(result.metadata, "examples")[0]["low"] == "100.5"


def test_the_writers_scan_counts_what_the_grid_and_ohlc_checks_then_list(pg_conn):
    """One scan measures the partition and counts for both checks; they fail on what it found."""
    with pg_conn.cursor() as cur:
        ones = "'1', '1', '1', '1', '1', '1', 1, '0', '0'"
        cur.execute(
            "INSERT INTO candles_15m VALUES"
            f" ('BTCUSDT', '2024-02-01 00:00+00', '2024-02-01 00:14:59.999+00', {ones}),"
            f" ('BTCUSDT', '2024-02-01 00:20+00', '2024-02-01 00:34:59.999+00', {ones}),"  # off the grid
            f" ('BTCUSDT', '2024-02-01 00:30+00', '2024-02-01 00:40:00+00', {ones}),"  # cut short
            " ('BTCUSDT', '2024-02-01 01:00+00', '2024-02-01 01:14:59.999+00',"
            " '100', '101', '100.5', '100.7', '1', '100', 3, '0.5', '50')"  # low above open
        )
        written = IngestStats(
            "BTCUSDT", 1706745600000, 1706745600000 + DAY_MS, 1706745600000 + DAY_MS
        )
        measured = measure(cur, "candles_15m", [written], 900_000)
        checks = {c.check_name: c for c in candle_checks(cur, "candles_15m", [measured], 900_000)}
    assert (measured.off_grid, measured.ohlc_violations) == (2, 1)
    meta = measured.metadata["2024-02-01|BTCUSDT"]
    assert meta["rows"] == 4 and "off_grid_candles" not in meta and "ohlc_violations" not in meta
    assert not checks[ON_GRID].passed and checks[ON_GRID].metadata["off_grid_candles"].value == 2
    assert [e[1] for e in json_entry(checks[ON_GRID].metadata, "examples")] == [
        "2024-02-01T00:20:00+00:00",
        "2024-02-01T00:30:00+00:00",
    ]
    assert not checks[OHLC_INVARIANTS].passed
    assert json_entry(checks[OHLC_INVARIANTS].metadata, "examples")[0]["low"] == "100.5"


def test_overlapping_runs_at_once_take_turns_and_never_duplicate(simulator, db_url, tmp_path):
    """Two processes replacing the same days at the same time (a UI backfill next to a sensor
    run) both succeed: slow answers keep both transactions open together."""
    simulator.faults.update(latency_ms=300)
    config = tmp_path / "crypto.yaml"
    config.write_text("symbols: [BTCUSDT, ETHUSDT]\nhistory_start: 2024-01-01\n")
    processes = []
    for index in range(2):
        home = tmp_path / f"home{index}"
        home.mkdir()
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DAGSTER_HOME": str(home),
            "CRYPTO_CONFIG": str(config),
            "BINANCE_API_URL": simulator.url,
            "BINANCE_ARCHIVE_URL": simulator.url,
        }
        argv = [
            sys.executable,
            "-m",
            "crypto_assets.cli",
            "backfill",
            "candles_15m",
            "--start",
            "2024-03-01",
            "--end",
            "2024-03-20",
        ]
        processes.append(
            subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = [p.communicate(timeout=240)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert count(db_url) == 20 * 96 * 2
