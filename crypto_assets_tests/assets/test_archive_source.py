"""Where each candle comes from, inside the candle assets: Dagster runs against the simulator's
REST and archive over HTTP, into real PostgreSQL.

Archived days come from the archive and spend no klines weight; a day whose file is unusable
comes from REST (a warning names the file or host) and no row of the bad file is stored; each
partition's metadata says which source gave how many rows. Expected candles are the simulator's
REST klines, fetched over HTTP after the run.
"""

import logging
from datetime import UTC, date, datetime

import dagster as dg
import httpx
import pytest

from crypto_assets.settings import Settings
from crypto_assets_tests.assets.helpers import materialize_range
from crypto_assets_tests.stream.helpers import insert_candles, query, rest_candles, table_candles

SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2017, 8, 1))
DAY_MS = 86_400_000


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def run(simulator, db_url, first: str, last: str, asset="candles_15m", archive_url=None):
    """Materialize first..last ('YYYY-MM-DD|SYMBOL') in one run; returns (result, log records)."""
    instance = dg.DagsterInstance.ephemeral()
    result = materialize_range(
        asset,
        SETTINGS,
        simulator.url,
        db_url,
        first,
        last,
        instance=instance,
        archive_url=archive_url,
    )
    assert result.success
    records = [entry for entry in instance.all_logs(result.run_id) if not entry.is_dagster_event]
    return result, records


def messages(records, level) -> list[str]:
    return [entry.user_message for entry in records if entry.level == level]


def sources(result) -> dict[str, tuple]:
    """Per partition: (source, archive_rows, rest_rows, archive file or None)."""
    out = {}
    for event in result.get_asset_materialization_events():
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        out[event.materialization.partition] = (
            meta["source"],
            meta["archive_rows"],
            meta["rest_rows"],
            meta.get("archive_file"),
        )
    return out


def rest_15m(simulator, symbol: str, first: str, last: str) -> list[list]:
    """REST's 15m klines of the days first..last, page by page."""
    rows, start, end = [], ms(first), ms(last) + DAY_MS
    while start < end:
        page = httpx.get(
            f"{simulator.url}/api/v3/klines",
            params={
                "symbol": symbol,
                "interval": "15m",
                "startTime": start,
                "endTime": end - 1,
                "limit": 1000,
            },
        ).json()
        rows += [row[:11] for row in page]
        start = page[-1][0] + 1 if len(page) == 1000 else end
    return rows


def table_15m(db_url, symbol: str) -> list[list]:
    rows = query(
        db_url,
        "SELECT (extract(epoch FROM open_time) * 1000)::bigint, open::text, high::text, low::text, close::text,"
        " volume::text, (extract(epoch FROM close_time) * 1000)::bigint, quote_volume::text, trade_count,"
        " taker_buy_base_volume::text, taker_buy_quote_volume::text FROM candles_15m WHERE "
        "symbol = %s ORDER BY open_time",
        (symbol,),
    )
    return [list(row) for row in rows]


def test_archived_days_come_from_monthly_and_daily_files_and_spend_no_klines_weight(
    simulator, db_url
):
    result, records = run(simulator, db_url, "2024-01-30|BTCUSDT", "2024-03-02|BTCUSDT")
    assert simulator.stats["weight /api/v3/klines"] == 0
    assert (
        simulator.stats["archive_files"] == 5
    )  # 2024-01-30, 01-31, the month 2024-02, 03-01, 03-02
    got = sources(result)
    assert len(got) == 33
    assert got["2024-01-31|BTCUSDT"] == ("archive", 96, 0, "BTCUSDT-15m-2024-01-31.zip")
    assert {got[f"2024-02-{d:02d}|BTCUSDT"] for d in range(1, 30)} == {
        ("archive", 96, 0, "BTCUSDT-15m-2024-02.zip")
    }
    assert got["2024-03-02|BTCUSDT"] == ("archive", 96, 0, "BTCUSDT-15m-2024-03-02.zip")
    assert table_15m(db_url, "BTCUSDT") == rest_15m(
        simulator, "BTCUSDT", "2024-01-30", "2024-03-02"
    )
    assert messages(records, logging.WARNING) == []


@pytest.mark.parametrize(
    "fault, problem",
    [
        ("bad_checksum", "does not match its .CHECKSUM"),
        ("corrupt", "not a readable zip"),
        ("truncated", "download cut short"),
        ("missing", "not published (HTTP 404)"),
    ],
)
def test_an_unusable_file_stores_nothing_and_its_day_comes_from_rest_with_a_warning(
    simulator, db_url, fault, problem
):
    simulator.faults.update(archive_files={"BTCUSDT-15m-2024-02-03.zip": fault})
    result, records = run(simulator, db_url, "2024-02-02|BTCUSDT", "2024-02-04|BTCUSDT")
    # one page of REST klines for that day only (and, for a 404, a one-candle look at the listing)
    assert simulator.stats["weight /api/v3/klines"] == (4 if fault == "missing" else 2)
    got = sources(result)
    assert got["2024-02-03|BTCUSDT"] == ("rest", 0, 96, None)  # not one row from the bad file
    assert got["2024-02-02|BTCUSDT"] == ("archive", 96, 0, "BTCUSDT-15m-2024-02-02.zip")
    assert got["2024-02-04|BTCUSDT"] == ("archive", 96, 0, "BTCUSDT-15m-2024-02-04.zip")
    assert table_15m(db_url, "BTCUSDT") == rest_15m(
        simulator, "BTCUSDT", "2024-02-02", "2024-02-04"
    )
    [warning] = messages(records, logging.WARNING)
    assert (
        "BTCUSDT-15m-2024-02-03.zip" in warning
        and problem in warning
        and "comes from REST" in warning
    )


def test_a_bad_monthly_file_hands_its_days_to_the_daily_files(simulator, db_url):
    simulator.faults.update(archive_files={"ETHUSDT-15m-2024-02.zip": "corrupt"})
    result, records = run(simulator, db_url, "2024-02-01|ETHUSDT", "2024-02-29|ETHUSDT")
    got = sources(result)
    assert got["2024-02-07|ETHUSDT"] == ("archive", 96, 0, "ETHUSDT-15m-2024-02-07.zip")
    assert {value[0] for value in got.values()} == {"archive"}
    [warning] = messages(records, logging.WARNING)
    assert "ETHUSDT-15m-2024-02.zip" in warning and "comes from the daily files" in warning
    assert simulator.stats["weight /api/v3/klines"] == 0


def test_an_unreachable_archive_host_sends_every_day_to_rest_with_one_warning(simulator, db_url):
    result, records = run(
        simulator,
        db_url,
        "2024-02-01|BTCUSDT",
        "2024-02-05|BTCUSDT",
        archive_url="http://127.0.0.1:9",
    )
    assert set(sources(result).values()) == {("rest", 0, 96, None)}
    assert table_15m(db_url, "BTCUSDT") == rest_15m(
        simulator, "BTCUSDT", "2024-02-01", "2024-02-05"
    )
    [warning] = messages(records, logging.WARNING)
    assert (
        "archive host 127.0.0.1:9 is unreachable" in warning
        and "every remaining day of this run comes from REST" in warning
    )


def test_today_and_yesterday_before_its_file_come_from_rest_without_a_warning(simulator, db_url):
    simulator.clock.freeze(ms("2024-03-05") + 3_600_000)  # 01:00: the 03-04 file appears at 06:00
    result, records = run(simulator, db_url, "2024-03-03|BTCUSDT", "2024-03-05|BTCUSDT")
    got = sources(result)
    assert got["2024-03-03|BTCUSDT"] == ("archive", 96, 0, "BTCUSDT-15m-2024-03-03.zip")
    assert got["2024-03-04|BTCUSDT"] == ("rest", 0, 96, None)
    assert got["2024-03-05|BTCUSDT"] == ("rest", 0, 4, None)  # 00:00 .. 00:45 have closed
    assert messages(records, logging.WARNING) == []
    assert any(
        "BTCUSDT-15m-2024-03-04.zip is not published yet" in text
        for text in messages(records, logging.INFO)
    )


def test_days_before_the_listing_need_no_file_and_raise_no_warning(simulator, db_url):
    result, records = run(simulator, db_url, "2017-08-15|BTCUSDT", "2017-08-17|BTCUSDT")
    got = sources(result)
    assert got["2017-08-15|BTCUSDT"] == got["2017-08-16|BTCUSDT"] == ("rest", 0, 0, None)
    assert got["2017-08-17|BTCUSDT"] == (
        "archive",
        80,
        0,
        "BTCUSDT-15m-2017-08-17.zip",
    )  # listed 04:00
    [warning] = messages(records, logging.WARNING)  # the asset's own note; nothing about files
    assert "no candles before 2017-08-17 04:00" in warning and ".zip" not in warning


def stored_by_source(result) -> tuple[int, int, int]:
    """The partition's rows as stored: all, from the stream, from REST (archive included)."""
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    return meta["rows"].value, meta["rows_from_stream"].value, meta["rows_from_rest"].value


def test_candles_1m_from_microsecond_files_equal_rest_only_ones(simulator, db_url):
    """An empty past day is COPYed straight in; run again from REST only, the merge finds the
    same values and changes nothing."""
    day, end = ms("2025-03-10"), ms("2025-03-11")
    result, records = run(
        simulator, db_url, "2025-03-10|ETHUSDT", "2025-03-10|ETHUSDT", asset="candles_1m"
    )
    assert sources(result) == {
        "2025-03-10|ETHUSDT": ("archive", 1440, 0, "ETHUSDT-1m-2025-03-10.zip")
    }
    assert "ETHUSDT: closed minutes: 1,440 from the archive; 1,440 minutes filled" in " ".join(
        messages(records, logging.INFO)
    )
    assert stored_by_source(result) == (1440, 0, 1440)
    from_archive = table_candles(db_url, "ETHUSDT", day, end)
    assert [row[:11] for row in from_archive] == rest_candles(simulator.url, "ETHUSDT", day, end)
    assert {row[11:] for row in from_archive} == {(True, "rest")}
    result, records = run(
        simulator,
        db_url,
        "2025-03-10|ETHUSDT",
        "2025-03-10|ETHUSDT",
        asset="candles_1m",
        archive_url="",
    )
    assert sources(result) == {"2025-03-10|ETHUSDT": ("rest", 0, 1440, None)}
    assert "ETHUSDT: closed minutes: 1,440 from REST; 0 minutes filled, 0 replaced" in " ".join(
        messages(records, logging.INFO)
    )
    assert stored_by_source(result) == (1440, 0, 1440)
    assert table_candles(db_url, "ETHUSDT", day, end) == from_archive


def test_a_past_day_the_stream_wrote_to_is_merged_not_copied(simulator, db_url):
    day, end = ms("2025-03-10"), ms("2025-03-11")
    rest = rest_candles(simulator.url, "ETHUSDT", day, end)
    insert_candles(db_url, "ETHUSDT", rest[:5])  # the stream had the first five minutes, right
    result, _ = run(
        simulator, db_url, "2025-03-10|ETHUSDT", "2025-03-10|ETHUSDT", asset="candles_1m"
    )
    assert stored_by_source(result) == (1440, 5, 1435)
    assert [row[:11] for row in table_candles(db_url, "ETHUSDT", day, end)] == rest
    assert dict(query(db_url, "SELECT source, count(*) FROM candles_1m GROUP BY 1")) == {
        "stream": 5,
        "rest": 1435,
    }
