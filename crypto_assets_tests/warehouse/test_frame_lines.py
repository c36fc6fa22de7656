"""COPY lines of archive frames: formatted once per file, cut per day, equal to the per-day text."""

from itertools import pairwise

import polars as pl
import pytest

from crypto_assets.binance.wire import DAY_MS, Kline
from crypto_assets.warehouse.candles import frame_lines, frame_slices_lines, kline_lines

M = 60_000
DAY0 = 1_704_067_200_000  # 2024-01-01


def kline(open_ms: int) -> Kline:
    return Kline(
        open_ms, "1.10", "1.20", "1.00", "1.15", "7.5", open_ms + M - 1, "8.6", 3, "2.5", "2.9"
    )


def frame(opens: list[int]) -> pl.DataFrame:
    names = [
        "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
        "trade_count", "taker_buy_base_volume", "taker_buy_quote_volume",
    ]  # fmt: skip
    return pl.DataFrame([kline(t) for t in opens], schema=names, orient="row")


# three days: the first with 3 minutes, the second empty, the third with 2 (its first one missing)
OPENS = [DAY0, DAY0 + M, DAY0 + 2 * M, DAY0 + 2 * DAY_MS + M, DAY0 + 2 * DAY_MS + 2 * M]


@pytest.mark.parametrize("bounds", [[0, 3, 3, 5], [1, 3, 3, 4], [0, 5], [2, 2]])
def test_each_slice_gets_exactly_its_rows_lines(bounds):
    data = frame(OPENS)
    got = frame_slices_lines("BTCUSDT", data, bounds, "\ttrue\trest")
    want = [
        kline_lines("BTCUSDT", [kline(t) for t in OPENS[lo:hi]], "\ttrue\trest")
        for lo, hi in pairwise(bounds)
    ]
    assert got == want
    assert got == [
        frame_lines("BTCUSDT", data.slice(lo, hi - lo), "\ttrue\trest")
        for lo, hi in pairwise(bounds)
    ]


def test_the_text_is_what_postgres_reads():
    (line,) = frame_slices_lines("ETHUSDT", frame([DAY0]), [0, 1])
    assert line == (
        "ETHUSDT\t2024-01-01 00:00:00.000+00\t2024-01-01 00:00:59.999+00"
        "\t1.10\t1.20\t1.00\t1.15\t7.5\t8.6\t3\t2.5\t2.9\n"
    )
