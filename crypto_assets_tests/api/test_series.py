"""/v1/candles, /v1/downsampled and /v1/metrics: every format's values equal the tables', digit for digit."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from crypto_assets_tests.api.expected import as_csv, as_json, iso, read_csv, table_rows

TABLES = {"1m": "candles_1m", "15m": "candles_15m", "1h": "candles_1h", "1d": "candles_1d"}
DAY_START, DAY_END = (
    datetime(2025, 3, 8, tzinfo=UTC),
    datetime(2025, 3, 11, tzinfo=UTC),
)
RANGE = {"start": "2025-03-08", "end": "2025-03-11"}


def stored(
    api_market,
    table: str,
    symbol: str,
    key: str = "open_time",
    lo=DAY_START,
    hi=DAY_END,
    extra: str = "",
) -> list[dict]:
    return table_rows(
        api_market.url,
        table,
        f"symbol = %(symbol)s AND {key} >= %(lo)s AND {key} < %(hi)s{extra}",
        {"symbol": symbol, "lo": lo, "hi": hi},
        key,
    )


def all_pages(client, path: str, rows_name: str, **params) -> tuple[list[dict], int]:
    """Every row, following next_cursor; and how many pages it took."""
    rows, pages, cursor = [], 0, None
    while True:
        response = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body[rows_name]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, pages


@pytest.mark.parametrize("interval", ["1m", "15m", "1h", "1d"])
def test_candle_pages_hold_every_row_of_the_table_exactly(interval, api_market, client):
    expected = [as_json(r) for r in stored(api_market, TABLES[interval], "ETHUSDT")]
    rows, pages = all_pages(
        client, "/v1/candles/ETHUSDT", "candles", interval=interval, limit=1000, **RANGE
    )
    assert rows == expected and expected
    assert [list(r) for r in rows[:1]] == [list(expected[0])]  # the table's column order
    assert pages == len(expected) // 1000 + 1
    extra = {"1m": {"is_closed", "source"}, "15m": set()}.get(
        interval, {"vwap", "source_candles", "is_complete"}
    )
    assert extra <= set(rows[0]) and all(
        isinstance(r["open"], str) and isinstance(r["trade_count"], int) for r in rows
    )


def test_a_json_page_has_its_envelope_and_the_default_limit(api_market, client):
    body = client.get(
        "/v1/candles/BTCUSDT", params={"interval": "1m", "start": "2025-03-01"}
    ).json()
    assert list(body) == ["symbol", "interval", "candles", "next_cursor"]
    assert body["symbol"] == "BTCUSDT" and body["interval"] == "1m" and len(body["candles"]) == 1000
    assert body["candles"][0]["open_time"] == "2025-03-01T00:00:00.000Z"
    following = client.get(
        "/v1/candles/BTCUSDT",
        params={"interval": "1m", "start": "2025-03-01", "cursor": body["next_cursor"]},
    ).json()
    assert (
        following["candles"][0]["open_time"] == "2025-03-01T16:40:00.000Z"
    )  # candle 1001 of the day


def test_times_with_a_zone_and_without_one_pick_the_same_utc_range(api_market, client):
    def times(start, end):
        body = client.get(
            "/v1/candles/BTCUSDT", params={"interval": "1h", "start": start, "end": end}
        ).json()
        return [c["open_time"] for c in body["candles"]]

    utc = times("2025-03-08T10:00:00Z", "2025-03-08T13:00:00Z")
    assert utc == [
        "2025-03-08T10:00:00.000Z",
        "2025-03-08T11:00:00.000Z",
        "2025-03-08T12:00:00.000Z",
    ]
    assert times("2025-03-08T12:00:00+02:00", "2025-03-08T15:00:00+02:00") == utc
    assert times("2025-03-08T10:00:00", "2025-03-08T13:00") == utc


def test_csv_has_the_same_names_and_values(api_market, client):
    response = client.get(
        "/v1/candles/BTCUSDT", params={"interval": "1h", "format": "csv", **RANGE}
    )
    assert response.headers["content-type"].startswith("text/csv")
    names, rows = read_csv(response.text)
    expected = stored(api_market, "candles_1h", "BTCUSDT")
    assert names == list(expected[0]) and rows == [as_csv(r) for r in expected]


def test_a_stream_of_a_whole_table_range_is_complete(api_market, client):
    response = client.get("/v1/candles/ETHUSDT", params={"interval": "1m", "format": "csv"})
    _, rows = read_csv(response.text)
    expected = stored(api_market, "candles_1m", "ETHUSDT", lo=datetime(2000, 1, 1, tzinfo=UTC))
    assert (
        rows == [as_csv(r) for r in expected] and len(rows) > 2 * 1440
    )  # two days and the streamed minutes


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
def test_polars_reads_arrow_and_parquet_with_exact_values(fmt, api_market, client):
    response = client.get("/v1/candles/BTCUSDT", params={"interval": "1m", "format": fmt, **RANGE})
    assert response.status_code == 200
    frame = (
        pl.read_ipc_stream(response.content)
        if fmt == "arrow"
        else pl.read_parquet(io.BytesIO(response.content))
    )
    expected = stored(api_market, "candles_1m", "BTCUSDT")
    assert frame.columns == list(expected[0])
    assert (
        frame.schema["open_time"] == pl.Datetime("us", "UTC") and frame.schema["close"] == pl.String
    )
    assert frame.to_dicts() == expected
    total = frame.select(
        pl.col("quote_volume").str.to_decimal(scale=8).sum()
    ).item()  # exact arithmetic in polars
    assert total == sum(Decimal(r["quote_volume"]) for r in expected)


@pytest.mark.parametrize("width", ["1m", "5m"])
def test_downsampled_windows_equal_the_table(width, api_market, client):
    body = client.get("/v1/downsampled/BTCUSDT", params={"width": width, **RANGE}).json()
    assert body["symbol"] == "BTCUSDT" and body["width"] == width and body["next_cursor"] is None
    expected = stored(
        api_market,
        "price_downsampled",
        "BTCUSDT",
        key="bucket_start",
        extra=f" AND bucket_width = '{width[:-1]} minutes'",
    )
    assert body["windows"] == [as_json(r) for r in expected] and expected


def test_metrics_days_equal_the_table_in_json_and_csv(api_market, client):
    expected = stored(
        api_market,
        "market_metrics_daily",
        "ETHUSDT",
        key="day",
        lo=DAY_START.date(),
        hi=DAY_END.date(),
    )
    assert len(expected) == 3
    body = client.get("/v1/metrics/ETHUSDT", params=RANGE).json()
    assert body["metrics"] == [as_json(r) for r in expected]
    _names, rows = read_csv(
        client.get("/v1/metrics/ETHUSDT", params={**RANGE, "format": "csv"}).text
    )
    floats = {
        "simple_return",
        "log_return",
        "realized_volatility",
        "realized_volatility_annualized",
        "range_pct",
    }
    for row, want in zip(rows, (as_csv(r) for r in expected), strict=True):
        assert {k: v for k, v in row.items() if k not in floats} == {
            k: v for k, v in want.items() if k not in floats
        }
        assert all(
            (float(row[k]) if row[k] else None) == (float(want[k]) if want[k] else None)
            for k in floats
        )


def test_a_day_keyed_range_starts_at_the_first_midnight_inside_it(api_market, client):
    body = client.get(
        "/v1/metrics/ETHUSDT",
        params={"start": "2025-03-08T06:00:00Z", "end": "2025-03-10T00:00:00Z"},
    ).json()
    assert [m["day"] for m in body["metrics"]] == ["2025-03-09"]


@pytest.mark.parametrize("fmt", ["csv", "arrow"])
def test_a_limit_caps_a_stream_and_a_cursor_starts_it(fmt, api_market, client):
    page = client.get("/v1/candles/BTCUSDT", params={"interval": "15m", "limit": 3, **RANGE}).json()
    params = {"interval": "15m", "limit": 5, "format": fmt, "cursor": page["next_cursor"], **RANGE}
    response = client.get("/v1/candles/BTCUSDT", params=params)
    times = (
        [r["open_time"] for r in read_csv(response.text)[1]]
        if fmt == "csv"
        else [iso(t) for t in pl.read_ipc_stream(response.content)["open_time"]]
    )
    assert times == [f"2025-03-08T00:{m:02d}:00.000Z" for m in (45,)] + [
        f"2025-03-08T01:{m:02d}:00.000Z" for m in (0, 15, 30, 45)
    ]
