"""``crypto audit`` on an empty and on a filled database, text and JSON."""

import json
from datetime import UTC, datetime

import psycopg2

from crypto_assets.cli import main
from crypto_assets_tests.aggregates.loading import load_candles, materialize, recorded_rows
from crypto_assets_tests.commands.dagster_home import command_env, instance

PARTITION_DAYS = (
    datetime.now(UTC).date() - datetime(2024, 9, 1).date()
).days + 1  # history_start..today


def audit_json(capsys) -> dict:
    assert main(["audit", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_empty_database(tmp_path, monkeypatch, pg_server, db_url, capsys):
    command_env(tmp_path, monkeypatch, pg_server, db_url)
    report = audit_json(capsys)
    assert [(t["table"], t["rows"], t["symbols"]) for t in report["tables"]] == [
        (name, 0, [])
        for name in (
            "candles_15m",
            "candles_1m",
            "price_samples",
            "price_downsampled",
            "candles_1h",
            "candles_1d",
            "market_metrics_daily",
        )
    ]
    status = {p["asset"]: p for p in report["partitions"]}
    assert status["candles_1h"]["materialized"] == 0
    assert (
        status["candles_1h"]["missing"] == status["candles_1h"]["partitions"] == PARTITION_DAYS * 2
    )
    assert main(["audit"]) == 0
    assert "candles_1m: 0 rows" in capsys.readouterr().out


def test_filled_database(tmp_path, monkeypatch, pg_server, db_url, capsys):
    home = command_env(tmp_path, monkeypatch, pg_server, db_url)
    rows = recorded_rows()
    load_candles(db_url, "candles_1m", rows)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:  # a 5-minute hole at 10:00
        cur.execute(
            "DELETE FROM candles_1m WHERE open_time >= '2024-09-04 10:00+00' AND open_time < '2024-09-04 10:05+00'"
        )
    conn.close()
    with instance(home) as inst:
        materialize(db_url, ["candles_1h", "candles_1d"], "2024-09-04|BTCUSDT", instance=inst)

    report = audit_json(capsys)
    tables = {t["table"]: t for t in report["tables"]}
    (btc,) = tables["candles_1m"]["symbols"]
    assert btc == {
        "symbol": "BTCUSDT",
        "rows": 995,
        "first": "2024-09-04T02:27:00+00:00",
        "last": "2024-09-04T19:06:00+00:00",
        "missing_candles": 5,
    }
    assert (
        tables["candles_1h"]["rows"] == 18
        and tables["candles_1h"]["symbols"][0]["missing_candles"] == 0
    )
    assert [r["open_time"] for r in tables["candles_1m"]["last_rows"]] == [
        "2024-09-04T19:06:00+00:00",
        "2024-09-04T19:05:00+00:00",
        "2024-09-04T19:04:00+00:00",
    ]
    assert tables["candles_1m"]["last_rows"][0]["close"] == rows[-1][4]  # exact digits
    status = {p["asset"]: p for p in report["partitions"]}
    assert status["candles_1h"]["materialized"] == 1
    assert status["candles_1h"]["missing_by_symbol"] == {
        "BTCUSDT": PARTITION_DAYS - 1,
        "ETHUSDT": PARTITION_DAYS,
    }

    assert main(["audit"]) == 0
    text = capsys.readouterr().out
    assert "candles_1m: 995 rows" in text
    assert (
        "BTCUSDT: 995 rows, 2024-09-04T02:27:00+00:00 .. 2024-09-04T19:06:00+00:00, 5 missing candles"
        in text
    )
    assert f"candles_1h: 1 / {PARTITION_DAYS * 2:,}" in text


def test_days_cleared_on_purpose_are_reported_as_cleared_not_missing(
    tmp_path, monkeypatch, pg_server, db_url, capsys
):
    home = command_env(tmp_path, monkeypatch, pg_server, db_url)
    with instance(home) as inst:
        materialize(db_url, ["candles_1h"], "2024-09-02|BTCUSDT", instance=inst)
    assert main(["clear", "--downsampled", "--before", "2024-09-03", "--yes"]) == 0
    capsys.readouterr()
    status = {p["asset"]: p for p in audit_json(capsys)["partitions"]}
    hours = status["candles_1h"]
    assert hours["cleared"] == 2 * 2  # 2024-09-01 and -02, both symbols
    assert hours["materialized"] == 0 and hours["missing"] == hours["partitions"] - 4
    assert status["candles_15m"]["cleared"] == 0  # --downsampled left the raw tables' floors alone
