"""candles_1h and candles_1d from the real 1m recording of 2024-09-04, against an independent Decimal rollup."""

from collections import defaultdict
from decimal import Decimal as D

import psycopg2

from crypto_assets.assets.aggregate_checks import (
    INCOMPLETE,
    MATCHES_SOURCE,
    check_hours_match_source,
)
from crypto_assets.assets.aggregate_run import partition_windows
from crypto_assets_tests.aggregates.loading import fetch, load_candles, materialize, recorded_rows
from crypto_assets_tests.metadata import json_entry

KEY = "2024-09-04|BTCUSDT"
HOUR_MS = 3_600_000
DAY_START_MS = 1725408000000  # 2024-09-04 00:00 UTC
COLUMNS = (
    "(extract(epoch FROM open_time) * 1000)::bigint, open, high, low, close, volume, quote_volume, trade_count,"
    " taker_buy_base_volume, taker_buy_quote_volume, vwap, source_candles, is_complete, source_interval"
)


def rollup(rows: list[list], expected_count: int, source: str) -> dict:
    """Roll REST kline rows of one bucket up with Decimal: the reference the SQL must match."""
    rows = sorted(rows, key=lambda r: r[0])
    volume, quote = sum(D(r[5]) for r in rows), sum(D(r[7]) for r in rows)
    return {
        "open": D(rows[0][1]),
        "high": max(D(r[2]) for r in rows),
        "low": min(D(r[3]) for r in rows),
        "close": D(rows[-1][4]),
        "volume": volume,
        "quote_volume": quote,
        "trade_count": sum(int(r[8]) for r in rows),
        "taker_base": sum(D(r[9]) for r in rows),
        "taker_quote": sum(D(r[10]) for r in rows),
        "vwap": quote / volume,
        "source_candles": len(rows),
        "is_complete": len(rows) == expected_count,
        "source_interval": source,
    }


def stored(db_url: str, table: str, symbol: str = "BTCUSDT") -> dict[int, dict]:
    """The symbol's rows of a candle rollup table, by open time (ms)."""
    names = [
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        "trade_count",
        "taker_base",
        "taker_quote",
        "vwap",
        "source_candles",
        "is_complete",
        "source_interval",
    ]
    return {
        row[0]: dict(zip(names, row[1:], strict=True))
        for row in fetch(
            db_url, f"SELECT {COLUMNS} FROM {table} WHERE symbol = %s ORDER BY open_time", (symbol,)
        )
    }


def assert_same(actual: dict, expected: dict) -> None:
    assert abs(actual.pop("vwap") - expected.pop("vwap")) < D("1e-9")
    assert actual == expected


def by_hour(rows):
    hours = defaultdict(list)
    for row in rows:
        hours[row[0] // HOUR_MS * HOUR_MS].append(row)
    return hours


def test_hours_equal_an_independent_decimal_rollup_of_the_recording(db_url):
    rows = recorded_rows()
    load_candles(db_url, "candles_1m", rows)
    result = materialize(db_url, ["candles_1h"], KEY)

    hours = stored(db_url, "candles_1h")
    expected = {hour: rollup(group, 60, "1m") for hour, group in by_hour(rows).items()}
    assert sorted(hours) == sorted(expected)
    for hour in expected:
        assert_same(hours[hour], expected[hour])
    complete = [h for h in hours if hours[h]["is_complete"]]
    assert len(complete) == 16  # 03:00 .. 18:00
    first_partial, last_partial = DAY_START_MS + 2 * HOUR_MS, DAY_START_MS + 19 * HOUR_MS
    assert (
        not hours[first_partial]["is_complete"] and hours[first_partial]["source_candles"] == 33
    )  # from 02:27
    assert (
        not hours[last_partial]["is_complete"] and hours[last_partial]["source_candles"] == 7
    )  # to 19:06

    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert all(c.passed for name, c in checks.items() if name != INCOMPLETE)
    assert (
        not checks[INCOMPLETE].passed and checks[INCOMPLETE].metadata["offending_rows"].value == 2
    )
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["rows"].value == 18 and meta["hours_from_15m"].value == 0


def test_the_day_is_the_exact_sum_and_is_not_complete(db_url):
    rows = recorded_rows()
    load_candles(db_url, "candles_1m", rows)
    result = materialize(db_url, ["candles_1h", "candles_1d"], KEY)
    assert result.success
    (day,) = stored(db_url, "candles_1d").values()
    expected = rollup(rows, 1440, "1m")
    expected["is_complete"] = False  # hours 00, 01 and 20..23 are absent, 02 and 19 partial
    assert_same(day, expected)
    assert day["volume"] == sum(D(r[5]) for r in rows)  # exact: no float anywhere


def test_hours_without_1m_candles_come_from_15m_and_say_so(db_url):
    rows = recorded_rows()
    load_candles(db_url, "candles_1m", rows)
    quarter = 900_000

    def candle_15m(open_ms, price):
        return [
            open_ms,
            f"{price}.10",
            f"{price + 5}.25",
            f"{price - 5}.50",
            f"{price}.75",
            "1.00000001",
            open_ms + quarter - 1,
            f"{price}.12345678",
            7,
            "0.50000000",
            f"{price // 2}.00000001",
            "0",
        ]

    fifteen = [
        candle_15m(DAY_START_MS + i * quarter, 56000 + i) for i in range(4)
    ]  # 00:00 hour, complete
    fifteen += [
        candle_15m(DAY_START_MS + HOUR_MS + i * quarter, 56100 + i) for i in range(3)
    ]  # 01:00, 3 of 4
    fifteen += [
        candle_15m(DAY_START_MS + 2 * HOUR_MS + i * quarter, 56200 + i) for i in range(4)
    ]  # 02:00 complete
    fifteen += [
        candle_15m(DAY_START_MS + 3 * HOUR_MS, 56300)
    ]  # 03:00: 1m is complete there, so ignored
    load_candles(db_url, "candles_15m", fifteen)
    result = materialize(db_url, ["candles_1h", "candles_1d"], KEY)

    hours = stored(db_url, "candles_1h")
    groups_15m = by_hour(fifteen)
    for hour, expected in (
        (DAY_START_MS, rollup(groups_15m[DAY_START_MS], 4, "15m")),
        (DAY_START_MS + HOUR_MS, rollup(groups_15m[DAY_START_MS + HOUR_MS], 4, "15m")),
        (
            DAY_START_MS + 2 * HOUR_MS,
            rollup(groups_15m[DAY_START_MS + 2 * HOUR_MS], 4, "15m"),
        ),  # 1m has 33 of 60
        (DAY_START_MS + 3 * HOUR_MS, rollup(by_hour(rows)[DAY_START_MS + 3 * HOUR_MS], 60, "1m")),
    ):
        assert_same(hours[hour], expected)
    (day,) = stored(db_url, "candles_1d").values()
    assert day["source_interval"] == "mixed" and not day["is_complete"]
    assert day["volume"] == sum(h["volume"] for h in hours.values())
    assert all(
        c.passed for c in result.get_asset_check_evaluations() if c.check_name == MATCHES_SOURCE
    )


def test_rematerializing_gives_the_same_rows(db_url):
    load_candles(db_url, "candles_1m", recorded_rows())
    digest = "SELECT md5(string_agg(t::text, ',' ORDER BY open_time)), count(*) FROM {} t"
    materialize(db_url, ["candles_1h", "candles_1d"], KEY)
    first = [fetch(db_url, digest.format(t)) for t in ("candles_1h", "candles_1d")]
    materialize(db_url, ["candles_1h", "candles_1d"], KEY)
    assert [fetch(db_url, digest.format(t)) for t in ("candles_1h", "candles_1d")] == first


def test_a_volume_that_differs_from_the_source_fails_with_the_day_named(db_url):
    load_candles(db_url, "candles_1m", recorded_rows())
    materialize(db_url, ["candles_1h"], KEY)
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "UPDATE candles_1h SET volume = volume + 0.00000001 WHERE open_time = '2024-09-04 05:00+00'"
        )
        result = check_hours_match_source(cur, partition_windows([KEY]))
    conn.close()
    assert not result.passed
    (example,) = json_entry(result.metadata, "examples")
    assert example["day"].startswith("2024-09-04") and example["symbol"] == "BTCUSDT"
    assert D(example["volume_1h"]) - D(example["volume_source"]) == D("0.00000001")
