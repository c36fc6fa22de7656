"""The read queries on hand-made rows: bucket widths, merged candles, the coarse-table plan,
moving averages and the anchored VWAP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crypto_assets.warehouse.queries.buckets import bucket_width, describe
from crypto_assets.warehouse.queries.candles import candle_series
from crypto_assets.warehouse.queries.samples import downsampled_view

T0 = datetime(2024, 9, 4, tzinfo=UTC)
MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@pytest.mark.parametrize(
    ("span", "finest", "expected"),
    [
        (DAY, MIN, MIN),  # 1,440 candles fit
        (7 * DAY, MIN, 10 * MIN),  # 10,080 minutes: 5 would fit 2,016, so 10
        (365 * DAY, MIN, 6 * HOUR),  # 262.8 minutes needed: 4 h is too fine
        (3650 * DAY, DAY, 2 * DAY),
        (36500 * DAY, DAY, 28 * DAY),
        (365000 * DAY, DAY, 183 * DAY),  # past four weeks: a whole number of days
        (7 * DAY, 15 * MIN, 15 * MIN),
    ],
)
def test_bucket_width_is_the_narrowest_round_step_within_budget(span, finest, expected):
    assert bucket_width(T0, T0 + span, finest) == expected


def test_bucket_width_names_bad_arguments():
    with pytest.raises(ValueError, match="finest bucket width must be positive"):
        bucket_width(T0, T0 + DAY, timedelta(0))
    assert describe(90 * timedelta(seconds=1)) == "90s" and describe(6 * HOUR) == "6h"


def _candle(cur, table: str, at: datetime, o, h, low, c, v, width=MIN, **extra) -> None:
    columns = {
        "symbol": "BTCUSDT",
        "open_time": at,
        "close_time": at + width - timedelta(milliseconds=1),
        "open": o,
        "high": h,
        "low": low,
        "close": c,
        "volume": v,
        "quote_volume": v * c,
        "trade_count": 1,
        "taker_buy_base_volume": 0,
        "taker_buy_quote_volume": 0,
        **extra,
    }
    cur.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
        list(columns.values()),
    )


def test_minutes_are_merged_into_buckets_with_first_open_last_close(pg_conn):
    with pg_conn.cursor() as cur:
        for i, (o, h, low, c, v) in enumerate(
            [
                (10, 12, 9, 11, 1),
                (11, 15, 10, 14, 2),
                (14, 14, 8, 9, 3),
                (9, 10, 9, 10, 4),
                (10, 11, 7, 8, 5),
            ]
        ):
            _candle(cur, "candles_1m", T0 + i * MIN, o, h, low, c, v, source="rest")
    pg_conn.commit()
    series = candle_series(pg_conn, "BTCUSDT", "1m", T0, T0 + 6 * MIN, ma_windows=(2,), budget=3)
    assert series.bucket == 2 * MIN and series.sources == ("candles_1m",)
    rows = series.frame.to_dicts()
    assert [(r["open"], r["high"], r["low"], r["close"], r["volume"]) for r in rows] == [
        (10, 15, 9, 14, 3),
        (14, 14, 8, 10, 7),
        (10, 11, 7, 8, 5),
    ]
    assert [r["ma_2"] for r in rows] == [None, 12, 9]
    # quote volume per minute is volume x close: (11 + 28 + 27 + 40 + 40) / 15 cumulated
    assert [r["vwap"] for r in rows] == pytest.approx([39 / 3, 106 / 10, 146 / 15])


def test_the_hourly_rollup_serves_the_hours_it_has_and_minutes_the_rest(pg_conn):
    with pg_conn.cursor() as cur:
        for hour in range(2):  # the rollup reached 02:00
            _candle(
                cur,
                "candles_1h",
                T0 + hour * HOUR,
                100 + hour,
                110,
                90,
                101 + hour,
                60,
                HOUR,
                vwap=100,
                source_candles=60,
                is_complete=True,
            )
        for minute in range(180):  # the minutes hold all three hours, at another price level
            _candle(cur, "candles_1m", T0 + minute * MIN, 50, 51, 49, 50, 1, source="stream")
    pg_conn.commit()
    series = candle_series(pg_conn, "BTCUSDT", "1m", T0, T0 + 3 * HOUR, budget=3)
    assert series.bucket == HOUR and series.sources == ("candles_1h", "candles_1m")
    assert [(r["open"], r["close"], r["volume"]) for r in series.frame.to_dicts()] == [
        (100, 101, 60),
        (101, 102, 60),
        (50, 50, 60),
    ]


def test_bad_selections_name_what_is_wrong(pg_conn):
    with pytest.raises(ValueError, match="interval '2m' is not one of 1m, 15m, 1h, 1d"):
        candle_series(pg_conn, "BTCUSDT", "2m", T0, T0 + DAY)
    with pytest.raises(ValueError, match=r"moving-average window 1 is outside 2\.\.500"):
        candle_series(pg_conn, "BTCUSDT", "1m", T0, T0 + DAY, ma_windows=(1,))
    with pytest.raises(ValueError, match=r"the range ends .* before it starts"):
        candle_series(pg_conn, "BTCUSDT", "1m", T0 + DAY, T0)


def test_a_long_raw_band_reads_stored_windows_where_they_exist_and_samples_after(pg_conn):
    with pg_conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO price_samples VALUES ('BTCUSDT', %s, %s)",
            [(T0 + i * MIN, 1000 + i) for i in range(1200)],
        )
        # windows for the first 600 minutes only, with min/max set apart from the samples'
        cur.executemany(
            "INSERT INTO price_downsampled VALUES ('BTCUSDT', %s, '1 minute', %s, %s, %s, %s, 1)",
            [(T0 + i * MIN, 1000 + i, 1000 + i, 999.5 + i, 1000.5 + i) for i in range(600)],
        )
    pg_conn.commit()
    view = downsampled_view(pg_conn, "BTCUSDT", MIN, 1200 * MIN)
    assert view.raw_bucket == 5 * MIN  # 1,200 samples are too many to draw one by one
    band = view.raw.to_dicts()
    assert len(band) == 240
    assert (band[0]["low"], band[0]["high"]) == (999.5, 1004.5)  # from the windows
    assert (band[119]["low"], band[119]["high"]) == (1594.5, 1599.5)
    assert (band[120]["low"], band[120]["high"]) == (1600, 1604)  # from the samples
    assert (band[-1]["low"], band[-1]["high"]) == (2195, 2199)
