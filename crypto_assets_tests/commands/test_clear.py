"""``crypto clear``: what it shows, when it asks, what it deletes, and the partition status afterwards."""

import io

import dagster as dg
import pytest

from crypto_assets.cli import main
from crypto_assets_tests.aggregates.loading import fetch, load_candles, materialize, recorded_rows
from crypto_assets_tests.commands.dagster_home import command_env, instance

DAY = "2024-09-04"


@pytest.fixture
def filled(tmp_path, monkeypatch, pg_server, db_url):
    """The recording in candles_1m (BTCUSDT) and its rollups built through the DAGSTER_HOME instance."""
    home = command_env(tmp_path, monkeypatch, pg_server, db_url)
    rows = recorded_rows()
    load_candles(db_url, "candles_1m", rows)
    load_candles(db_url, "candles_1m", rows, symbol="ETHUSDT")
    with instance(home) as inst:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            inst.report_runless_asset_event(
                dg.AssetMaterialization("candles_1m", partition=f"{DAY}|{symbol}")
            )
            materialize(db_url, ["candles_1h", "candles_1d"], f"{DAY}|{symbol}", instance=inst)
    return home


def counts(db_url):
    return {
        t: fetch(db_url, f"SELECT symbol, count(*) FROM {t} GROUP BY 1 ORDER BY 1")
        for t in ("candles_1m", "candles_1h", "candles_1d")
    }


def materialized(home, asset):
    with instance(home) as inst:
        return inst.get_materialized_partitions(dg.AssetKey(asset))


def test_without_yes_it_shows_the_counts_and_deletes_nothing_when_told_no(
    filled, db_url, monkeypatch, capsys
):
    before = counts(db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["clear", "--downsampled", "--symbol", "BTCUSDT"]) == 1
    out = capsys.readouterr().out
    assert "candles_1h: 18 rows, 1 materialized partitions" in out
    assert "candles_1d: 1 rows, 1 materialized partitions" in out
    assert "nothing deleted" in out
    assert counts(db_url) == before
    assert materialized(filled, "candles_1h") == {f"{DAY}|BTCUSDT", f"{DAY}|ETHUSDT"}


def test_no_answer_on_stdin_deletes_nothing(filled, db_url, monkeypatch, capsys):
    before = counts(db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["clear", "--all"]) == 1
    assert "add --yes" in capsys.readouterr().out
    assert counts(db_url) == before


def test_yes_deletes_one_symbol_and_its_partitions_go_missing(filled, db_url, capsys):
    assert (
        main(["clear", "--downsampled", "--symbol", "BTCUSDT", "--before", "2024-09-05", "--yes"])
        == 0
    )
    assert "candles_1h: deleted 18 rows; 1 partitions now missing" in capsys.readouterr().out
    after = counts(db_url)
    assert after["candles_1h"] == [("ETHUSDT", 18)] and after["candles_1d"] == [("ETHUSDT", 1)]
    assert after["candles_1m"] == [("BTCUSDT", 1000), ("ETHUSDT", 1000)]  # raw data untouched
    assert materialized(filled, "candles_1h") == {f"{DAY}|ETHUSDT"}
    assert materialized(filled, "candles_1d") == {f"{DAY}|ETHUSDT"}
    assert materialized(filled, "candles_1m") == {f"{DAY}|BTCUSDT", f"{DAY}|ETHUSDT"}


def test_answering_yes_clears_and_before_keeps_later_days(filled, db_url, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["clear", "--all", "--before", DAY]) == 0  # 2024-09-04 is not before itself
    assert counts(db_url)["candles_1h"] == [("BTCUSDT", 18), ("ETHUSDT", 18)]
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert main(["clear", "--all"]) == 0
    assert counts(db_url) == {"candles_1m": [], "candles_1h": [], "candles_1d": []}
    assert (
        materialized(filled, "candles_1m") == set() and materialized(filled, "candles_1h") == set()
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["clear", "--all", "--before", "2024-13-01", "--yes"],
            "flag --before: 2024-13-01 is not a date: there is no month 13",
        ),
        (["clear", "--raw", "--symbol", "btc-usdt", "--yes"], "--symbol"),
        (
            ["clear", "--raw", "--symbol", "BTCUSDC", "--before", "2024-09-05", "--yes"],
            (
                "flag --symbol: BTCUSDC is not one of the config's symbols (BTCUSDT, ETHUSDT)"
                " and no table of candles_15m, candles_1m, price_samples holds rows of it"
            ),
        ),
    ],
)
def test_bad_arguments_are_named_and_nothing_is_deleted(filled, db_url, capsys, argv, message):
    before = counts(db_url)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert counts(db_url) == before
    assert fetch(db_url, "SELECT count(*) FROM cleared_floors") == [(0,)]  # no floor raised


def test_a_symbol_dropped_from_the_config_can_still_be_cleared(filled, db_url, tmp_path, capsys):
    (tmp_path / "crypto.yaml").write_text("symbols: [BTCUSDT]\nhistory_start: 2024-09-01\n")
    assert main(["clear", "--downsampled", "--symbol", "ETHUSDT", "--yes"]) == 0
    assert counts(db_url)["candles_1h"] == [("BTCUSDT", 18)]
