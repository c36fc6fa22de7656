"""``crypto backfill`` end to end (real PostgreSQL, simulator over HTTP, a real Dagster instance),
and every bad input it must refuse without writing anything."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from crypto_assets.cli import main


@pytest.fixture
def cli_env(tmp_path, monkeypatch, simulator, db_url):
    config = tmp_path / "crypto.yaml"
    config.write_text("symbols: [BTCUSDT, ETHUSDT]\nhistory_start: 2024-01-01\n")
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("CRYPTO_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BINANCE_API_URL", simulator.url)
    monkeypatch.setenv("BINANCE_ARCHIVE_URL", simulator.url)
    return {"config": config, "home": home, "db_url": db_url}


def rows(db_url):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT symbol, count(*) FROM candles_15m GROUP BY symbol ORDER BY symbol")
        return dict(cur.fetchall())


def runs(home):
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_runs()


def test_backfill_runs_through_dagster_with_progress(cli_env, capsys):
    assert main(["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-20"]) == 0
    out = capsys.readouterr().out
    assert "40 partitions in 1 run(s)" in out
    assert "run 1/1: 2024-01-01..2024-01-20 BTCUSDT,ETHUSDT (40 partitions) ..." in out
    assert "rows BTCUSDT 1,920, ETHUSDT 1,920" in out
    assert rows(cli_env["db_url"]) == {"BTCUSDT": 1920, "ETHUSDT": 1920}
    with dg.DagsterInstance.from_config(str(cli_env["home"])) as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey("candles_15m"))
        assert len(materialized) == 40
        assert [r.status for r in instance.get_runs()] == [dg.DagsterRunStatus.SUCCESS]


def test_backfill_progress_shows_archive_files_bytes_rows_rate_and_eta(cli_env, capsys):
    assert (
        main(
            [
                "backfill",
                "candles_1m",
                "--start",
                "2024-02-01",
                "--end",
                "2024-02-29",
                "--symbols",
                "BTCUSDT",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    progress = [
        line
        for line in captured.err.splitlines()
        if "candles_1m - 100% (41,760/41,760 candles" in line
    ]
    assert (
        len(progress) == 1
        and "/s, ETA 0 s; archive 1 file, " in progress[0]
        and "MB; days: 29 archive" in progress[0]
    )
    assert "rows BTCUSDT 41,760, " in captured.out and " rows/s (run " in captured.out


def test_backfill_of_some_symbols_only(cli_env, capsys):
    assert (
        main(
            [
                "backfill",
                "candles_15m",
                "--start",
                "2024-01-05",
                "--end",
                "2024-01-06",
                "--symbols",
                "ETHUSDT",
            ]
        )
        == 0
    )
    assert rows(cli_env["db_url"]) == {"ETHUSDT": 192}


@pytest.mark.parametrize(
    "typed, expected_runs",
    [("LTCUSDT,BTCUSDT", 2), ("ETHUSDT", 1), ("LTCUSDT,ETHUSDT", 1)],
    ids=["reverse order, not adjacent", "one symbol from the middle", "adjacent in config order"],
)
def test_any_symbol_subset_writes_exactly_those_symbols(cli_env, capsys, typed, expected_runs):
    cli_env["config"].write_text(
        "symbols: [BTCUSDT, ETHUSDT, LTCUSDT]\nhistory_start: 2024-01-01\n"
    )
    assert (
        main(
            [
                "backfill",
                "candles_15m",
                "--start",
                "2024-01-31",
                "--end",
                "2024-02-01",
                "--symbols",
                typed,
            ]
        )
        == 0
    )
    chosen = typed.split(",")
    assert rows(cli_env["db_url"]) == dict.fromkeys(chosen, 2 * 96)
    out = capsys.readouterr().out
    assert f"{2 * len(chosen)} partitions in {expected_runs} run(s)" in out
    with dg.DagsterInstance.from_config(str(cli_env["home"])) as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey("candles_15m"))
    assert materialized == {
        f"{day}|{symbol}" for day in ("2024-01-31", "2024-02-01") for symbol in chosen
    }


TOMORROW = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--start", "2024-02-01", "--end", "2024-01-01"],
            "flag --start 2024-02-01 is after --end 2024-01-01",
        ),
        (["--start", "2024-01-01", "--end", TOMORROW], f"flag --end: {TOMORROW} is in the future"),
        (
            ["--start", "2024-13-01", "--end", "2024-01-01"],
            "flag --start: 2024-13-01 is not a date: there is no month 13",
        ),
        (
            ["--start", "2024-02-30", "--end", "2024-03-01"],
            "flag --start: 2024-02-30 is not a date: February 2024 has 29 days (the nearest valid day is 2024-02-29)",
        ),
        (
            ["--start", "2024-01-01T00:00", "--end", "2024-01-02"],
            "flag --start: '2024-01-01T00:00' is a date and time; give the day alone, like 2024-01-01",
        ),
        (
            ["--start", "2023-06-01", "--end", "2023-06-02"],
            "before the first partition 2024-01-01 (config key 'history_start'",
        ),
        (
            ["--start", "2024-01-01", "--end", "2024-01-02", "--symbols", "SOLUSDT"],
            "flag --symbols: SOLUSDT not in the config's symbols (BTCUSDT, ETHUSDT)",
        ),
        (
            ["--start", "2024-01-01", "--end", "2024-01-02", "--symbols", "ETHUSDC"],
            "flag --symbols: ETHUSDC not in the config's symbols (BTCUSDT, ETHUSDT) (did you mean 'ETHUSDT'?)",
        ),
        (
            ["--start", "2024-01-01", "--end", "2024-01-02", "--symbols", "btc/usdt"],
            (
                "flag --symbols: 'btc/usdt' is not a Binance symbol (upper-case letters and "
                "digits, like BTCUSDT); did you mean BTCUSDT?"
            ),
        ),
        (
            ["--start", "2024-01-01", "--end", "2024-01-02", "--sybmols", "BTCUSDT"],
            "unrecognized arguments: --sybmols BTCUSDT (did you mean '--symbols'?)",
        ),
    ],
)
def test_bad_arguments_are_named_and_nothing_runs(cli_env, capsys, argv, message):
    assert main(["backfill", "candles_15m", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1  # one line
    assert rows(cli_env["db_url"]) == {}
    assert runs(cli_env["home"]) == []


def test_unknown_asset_is_named(cli_env, capsys):
    assert main(["backfill", "candles_3m", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    err = capsys.readouterr().err
    assert (
        "unknown asset 'candles_3m' (did you mean 'candles_1m'?); backfillable assets: candles_15m, candles_1d"
        in err
    )


def test_asset_not_run_by_dagster_is_refused(cli_env, capsys):
    assert main(["backfill", "price_samples", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    assert "unknown asset 'price_samples'" in capsys.readouterr().err
    assert runs(cli_env["home"]) == []


def test_symbol_unknown_to_the_exchange_is_named_with_its_likely_spelling(cli_env, capsys):
    cli_env["config"].write_text(
        "symbols: [BTCUSDT, NOPEUSDT, ETHUSTD]\nhistory_start: 2024-01-01\n"
    )
    assert main(["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    err = capsys.readouterr().err
    assert "config key 'symbols': unknown symbol(s) on " in err
    assert "NOPEUSDT, ETHUSTD (did you mean 'ETHUSDT'?) (not listed in exchangeInfo)" in err
    assert runs(cli_env["home"]) == []


def test_non_trading_symbol_is_named(cli_env, capsys):
    cli_env["config"].write_text("symbols: [BCCBTC]\nhistory_start: 2024-01-01\n")
    assert main(["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    assert "BCCBTC is BREAK" in capsys.readouterr().err


def test_malformed_config_names_the_key(cli_env, capsys):
    cli_env["config"].write_text("symbols: [BTCUSDT]\nconcurrency: many\n")
    assert main(["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    assert "config key 'concurrency'" in capsys.readouterr().err


def test_unreachable_binance_names_the_url(cli_env, capsys, monkeypatch):
    cli_env["config"].write_text(
        "symbols: [BTCUSDT, ETHUSDT]\nhistory_start: 2024-01-01\nrest_retry_seconds: 1\n"
    )
    monkeypatch.setenv("BINANCE_API_URL", "http://127.0.0.1:9")
    assert main(["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    assert "http://127.0.0.1:9/api/v3/exchangeInfo" in capsys.readouterr().err
    assert runs(cli_env["home"]) == []


def test_geo_blocked_base_url_suggests_another(cli_env, capsys, simulator):
    simulator.faults.update(geo_block=True)
    assert main(["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    err = capsys.readouterr().err
    assert "restricted location" in err and "BINANCE_API_URL" in err


def test_unreachable_database_names_the_url(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/crypto")
    assert main(["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-01"]) == 2
    assert "127.0.0.1:9/crypto" in capsys.readouterr().err
