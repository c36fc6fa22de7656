"""Binary COPY rows of candle frames, read by a real PostgreSQL: every value stored exactly as a
text COPY of the same strings stores it (digits and display scale), bad decimals refused by name,
and a frame's rows cut by row number."""

import io
import json
from pathlib import Path

import polars as pl
import pytest

from crypto_assets.binance.wire import DAY_MS, Kline, parse_kline_row
from crypto_assets.warehouse.binary_copy import HEADER, TRAILER, candle_rows
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, copy_lines, kline_frame, kline_lines

FIXTURES = Path(__file__).parents[1] / "fixtures"
COLUMNS = (*CANDLE_COLUMNS, "is_closed", "source")
CONSTANTS = {"is_closed": True, "source": "rest"}
M = 60_000
DAY0 = 1_704_067_200_000  # 2024-01-01


def kline(open_ms: int, price: str = "1.10", volume: str = "7.5") -> Kline:
    return Kline(
        open_ms, price, "1.20", "1.00", "1.15", volume, open_ms + M - 1, "8.6", 3, "2.5", "2.9"
    )


def binary_copy(cur, table: str, data: bytes) -> None:
    columns = ", ".join(COLUMNS)
    cur.copy_expert(
        f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)",
        io.BytesIO(HEADER + data + TRAILER),
    )


def stored_as_text(cur, table: str) -> list[tuple]:
    cur.execute(
        f"SELECT {', '.join(f'{c}::text' for c in COLUMNS)} FROM {table} ORDER BY open_time"
    )
    return cur.fetchall()


def text_and_binary(cur, klines: list[Kline], symbol: str = "BTCUSDT") -> tuple[list, list]:
    """The same klines COPYed as text into a copy of candles_1m, and in binary into candles_1m."""
    cur.execute("CREATE TEMP TABLE text_copy (LIKE candles_1m INCLUDING ALL)")
    copy_lines(cur, "text_copy", COLUMNS, kline_lines(symbol, klines, "\ttrue\trest"))
    rows = candle_rows(kline_frame(klines), COLUMNS, {"symbol": symbol, **CONSTANTS})
    binary_copy(cur, "candles_1m", rows.data)
    return stored_as_text(cur, "text_copy"), stored_as_text(cur, "candles_1m")


def test_a_recorded_day_is_stored_exactly_as_its_text(pg_conn):
    rows = json.loads((FIXTURES / "BTCUSDT_1m_klines_2024-09-04.json").read_text())
    klines = [parse_kline_row(row) for row in rows]
    with pg_conn, pg_conn.cursor() as cur:
        text, binary = text_and_binary(cur, klines)
    assert len(binary) == len(klines) > 0
    assert binary == text
    first = klines[0]
    assert binary[0][3:7] == (first.open, first.high, first.low, first.close)  # digit for digit


TRICKY = [
    "0", "0.00000000", "5.", ".5", "+5", "-0.50", "-12.25", "00012.3400", "10000", "9999.9999",
    "123456789.1", "99999999999999999.12345678", "1.1234567890123456", "0.00000001",
]  # fmt: skip


def test_unusual_decimals_keep_their_value_and_scale(pg_conn):
    klines = [kline(DAY0 + i * M, price, TRICKY[-1 - i]) for i, price in enumerate(TRICKY)]
    with pg_conn, pg_conn.cursor() as cur:
        text, binary = text_and_binary(cur, klines)
    assert binary == text
    assert [row[3] for row in binary] == [
        "0", "0.00000000", "5", "0.5", "5", "-0.50", "-12.25", "12.3400", "10000", "9999.9999",
        "123456789.1", "99999999999999999.12345678", "1.1234567890123456", "0.00000001",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e5", "column open: '1e5' is not a plain decimal number"),
        ("2.5E3", "column open: '2.5E3' is not a plain decimal number"),
        ("abc", "column open: 'abc' is not a plain decimal number"),
        ("", "column open: '' is not a plain decimal number"),
        ("1.12345678901234567", "column open: '1.12345678901234567' has 17 decimals, more than 16"),
        ("1000000000000000000", "column open: '1000000000000000000' is 1e+18 or more"),
        ("1 ", "column open: '1 ' is not a plain decimal number"),
    ],
)
def test_a_value_that_is_not_a_plain_decimal_is_refused_by_name(value, message):
    klines = [kline(DAY0), kline(DAY0 + M, value)]
    with pytest.raises(ValueError, match="^" + message.replace("+", r"\+").replace(".", r"\.")):
        candle_rows(kline_frame(klines), COLUMNS, {"symbol": "BTCUSDT", **CONSTANTS})


@pytest.mark.parametrize(("lo", "hi"), [(0, 3), (3, 5), (1, 4), (2, 2), (0, 5)])
def test_rows_are_cut_by_row_number(pg_conn, lo, hi):
    opens = [DAY0, DAY0 + M, DAY0 + 2 * M, DAY0 + 2 * DAY_MS + M, DAY0 + 2 * DAY_MS + 2 * M]
    frame = kline_frame([kline(t, price=f"{t % 997}.{t % 13}") for t in opens])
    rows = candle_rows(frame, COLUMNS, {"symbol": "ETHUSDT", **CONSTANTS})
    assert len(rows.data) == rows.width * len(opens)
    with pg_conn, pg_conn.cursor() as cur:
        binary_copy(cur, "candles_1m", rows.slice(lo, hi))
        cur.execute(
            "SELECT (extract(epoch FROM open_time) * 1000)::bigint, open::text FROM candles_1m ORDER BY 1"
        )
        assert cur.fetchall() == [(t, f"{t % 997}.{t % 13}") for t in opens[lo:hi]]


def test_constants_and_an_empty_frame():
    empty = pl.DataFrame(schema=kline_frame([kline(DAY0)]).schema)
    assert candle_rows(empty, COLUMNS, {"symbol": "BTCUSDT", **CONSTANTS}).data == b""
    with pytest.raises(TypeError, match="a constant column must be str, bool or int, not float"):
        candle_rows(
            kline_frame([kline(DAY0)]),
            COLUMNS,
            {"symbol": "BTCUSDT", "is_closed": 1.0, "source": "rest"},
        )
