"""Benchmark: candles_1h, candles_1d and market_metrics_daily over a year of 1m candles, SQL vs polars.

Seeds one year of 1m candles for 10 symbols (5.26 million rows) in a throwaway PostgreSQL, then
times the full-year build and one day's incremental update (all 10 symbols) both ways:
- SQL: the functions the assets run (``crypto_assets.warehouse.rollups``), inside the database;
- polars: the same results computed in polars (exact Decimal columns), rows read out with
  COPY TO and written back with COPY FROM, as a polars asset would have to.
Both write the real tables; the polars tables are compared with the SQL ones (exact digits).

    uv run python -m bench.bench_aggregates [--days 365] [--symbols 10]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from bench.harness import fresh_database, report, throwaway_postgres
from bench.seed import seed_candles_1m
from crypto_assets.warehouse.db import connect, scalar
from crypto_assets.warehouse.rollups import write_candles_1d, write_candles_1h, write_market_metrics

SYMBOLS = [
    "BTCUSDT",
    "ETHUSDT",
    "BNBUSDT",
    "SOLUSDT",
    "XRPUSDT",
    "ADAUSDT",
    "DOGEUSDT",
    "AVAXUSDT",
    "DOTUSDT",
    "LINKUSDT",
]
START = date(2024, 1, 1)
NUM = pl.Decimal(38, 8)
SUMMED = ["volume", "quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume"]
STAMP = "%Y-%m-%d %H:%M:%S%.3f+00"


def _day(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), tzinfo=UTC)


# ---- SQL: what the assets run ---------------------------------------------------------------


def sql_stage(url: str, write, symbols: list[str], lo: datetime, hi: datetime) -> float:
    began = time.perf_counter()
    conn = connect(url)
    with conn, conn.cursor() as cur:
        for symbol in symbols:
            write(cur, symbol, lo, hi)
    conn.close()
    return time.perf_counter() - began


# ---- polars: the same results computed outside the database ----------------------------------


def read_frame(cur, query: str, schema: dict) -> pl.DataFrame:
    buffer = io.BytesIO()
    cur.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", buffer)
    buffer.seek(0)
    return pl.read_csv(buffer, schema_overrides=schema, try_parse_dates=False)


def write_frame(cur, table: str, frame: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.write_csv(
        buffer, separator="\t", include_header=False, null_value="\\N", datetime_format=STAMP
    )
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN", buffer)


def _window(table: str, column: str, symbols: list[str], lo: datetime, hi: datetime) -> str:
    names = ", ".join(f"'{s}'" for s in symbols)
    return f"{table} WHERE symbol IN ({names}) AND {column} >= '{lo.isoformat()}' AND {column} < '{hi.isoformat()}'"


def _candle_schema() -> dict:
    return dict.fromkeys(("open", "high", "low", "close", *SUMMED), NUM) | {"trade_count": pl.Int64}


def _epoch_ms(column: str) -> str:
    return f"(extract(epoch FROM {column}) * 1000)::bigint AS {column}"


def _rollup(frame: pl.DataFrame, every_ms: int, count_column: str) -> pl.DataFrame:
    """OHLCV per bucket of ``every_ms`` (first open, last close, exact Decimal sums)."""
    return (
        frame.sort("symbol", "open_time")
        .with_columns((pl.col("open_time") // every_ms * every_ms).alias("bucket"))
        .group_by("symbol", "bucket", maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            *[pl.col(c).sum() for c in SUMMED],
            pl.col("trade_count").sum(),
            pl.col(count_column).sum().alias("n"),
            *(
                [pl.col("is_complete").all(), pl.len().alias("hours")]
                if "is_complete" in frame.columns
                else []
            ),
        )
    )


def _as_candles(frame: pl.DataFrame, width_ms: int, complete: pl.Expr) -> pl.DataFrame:
    return frame.select(
        "symbol",
        pl.from_epoch("bucket", time_unit="ms").dt.replace_time_zone("UTC").alias("open_time"),
        pl.from_epoch(pl.col("bucket") + width_ms - 1, time_unit="ms")
        .dt.replace_time_zone("UTC")
        .alias("close_time"),
        "open",
        "high",
        "low",
        "close",
        *SUMMED,
        "trade_count",
        (pl.col("quote_volume").cast(pl.Float64) / pl.col("volume").cast(pl.Float64)).alias("vwap"),
        pl.col("n").alias("source_candles"),
        complete.alias("is_complete"),
        pl.lit("1m").alias("source_interval"),
    )


def polars_hours(cur, symbols, lo, hi) -> None:
    frame = read_frame(
        cur,
        f"SELECT symbol, {_epoch_ms('open_time')}, open, high, low, close, volume, quote_volume, trade_count,"
        " taker_buy_base_volume, taker_buy_quote_volume, 1 AS one FROM "
        f"{_window('candles_1m', 'open_time', symbols, lo, hi)}"
        " AND is_closed",
        _candle_schema(),
    )
    hours = _rollup(frame, 3_600_000, "one")
    cur.execute(f"DELETE FROM {_window('candles_1h', 'open_time', symbols, lo, hi)}")
    write_frame(cur, "candles_1h", _as_candles(hours, 3_600_000, pl.col("n") == 60))


def polars_days(cur, symbols, lo, hi) -> None:
    frame = read_frame(
        cur,
        f"SELECT symbol, {_epoch_ms('open_time')}, open, high, low, close, volume, quote_volume, trade_count,"
        f" taker_buy_base_volume, taker_buy_quote_volume, source_candles, is_complete::text AS is_complete"
        f" FROM {_window('candles_1h', 'open_time', symbols, lo, hi)}",
        _candle_schema() | {"is_complete": pl.Boolean},
    )
    days = _rollup(frame, 86_400_000, "source_candles")
    cur.execute(f"DELETE FROM {_window('candles_1d', 'open_time', symbols, lo, hi)}")
    write_frame(
        cur,
        "candles_1d",
        _as_candles(days, 86_400_000, pl.col("is_complete") & (pl.col("hours") == 24)),
    )


def polars_metrics(cur, symbols, lo, hi) -> None:
    minutes = read_frame(
        cur,
        f"SELECT symbol, {_epoch_ms('open_time')}, close::float8 AS close FROM "
        f"{_window('candles_1m', 'open_time', symbols, lo, hi)}"
        " AND is_closed",
        {},
    )
    vol = (
        minutes.sort("symbol", "open_time")
        .with_columns((pl.col("open_time") // 86_400_000 * 86_400_000).alias("day_ms"))
        .with_columns(
            (pl.col("close") / pl.col("close").shift(1).over("symbol", "day_ms")).log().alias("lr")
        )
        .group_by("symbol", "day_ms")
        .agg((pl.col("lr") ** 2).sum().sqrt().alias("rv"), pl.len().alias("minutes_observed"))
    )
    days = read_frame(
        cur,
        f"SELECT symbol, {_epoch_ms('open_time')}, open, high, low, close, volume, quote_volume, trade_count"
        f" FROM {_window('candles_1d', 'open_time', symbols, lo - timedelta(days=1), hi)}",
        _candle_schema(),
    ).sort("symbol", "open_time")
    days = days.with_columns(
        pl.when(pl.col("open_time").diff().over("symbol") == 86_400_000)
        .then(pl.col("close").shift(1).over("symbol"))
        .alias("previous_close")
    ).filter(pl.col("open_time") >= int(lo.timestamp() * 1000))
    out = days.join(
        vol, left_on=["symbol", "open_time"], right_on=["symbol", "day_ms"], how="left"
    ).select(
        "symbol",
        pl.from_epoch("open_time", time_unit="ms").dt.date().alias("day"),
        "open",
        "close",
        "previous_close",
        (pl.col("close").cast(pl.Float64) / pl.col("previous_close").cast(pl.Float64) - 1).alias(
            "simple_return"
        ),
        (pl.col("close").cast(pl.Float64) / pl.col("previous_close").cast(pl.Float64))
        .log()
        .alias("log_return"),
        pl.col("rv").alias("realized_volatility"),
        (pl.col("rv") * 365**0.5).alias("realized_volatility_annualized"),
        (
            (pl.col("high") - pl.col("low")).cast(pl.Float64)
            / pl.col("open").cast(pl.Float64)
            * 100
        ).alias("range_pct"),
        "volume",
        "quote_volume",
        "trade_count",
        pl.col("minutes_observed").fill_null(0).cast(pl.Int32),
    )
    cur.execute(
        f"DELETE FROM market_metrics_daily WHERE symbol IN ({', '.join(repr(s) for s in symbols)})"
        f" AND day >= '{lo.date()}' AND day < '{hi.date()}'"
    )
    write_frame(cur, "market_metrics_daily", out)


def polars_stage(url: str, build, symbols: list[str], lo: datetime, hi: datetime) -> float:
    began = time.perf_counter()
    conn = connect(url)
    with conn, conn.cursor() as cur:
        build(cur, symbols, lo, hi)
    conn.close()
    return time.perf_counter() - began


def digests(url: str) -> dict[str, str]:
    """Exact content of the exact columns (trailing zeros trimmed; vwap and float metrics rounded)."""
    queries = {
        "candles_1h": (
            "SELECT md5(string_agg(concat_ws(',', symbol, open_time, trim_scale(open),"
            " trim_scale(high), trim_scale(low), trim_scale(close), volume, quote_volume, trade_count,"
            " taker_buy_base_volume, taker_buy_quote_volume, round(vwap, 4), source_candles,"
            " is_complete), ';' ORDER BY symbol, open_time)) FROM candles_1h"
        ),
        "candles_1d": (
            "SELECT md5(string_agg(concat_ws(',', symbol, open_time, trim_scale(open),"
            " trim_scale(close), volume, quote_volume, trade_count, source_candles, is_complete),"
            " ';' ORDER BY symbol, open_time)) FROM candles_1d"
        ),
        "market_metrics_daily": (
            "SELECT md5(string_agg(concat_ws(',', symbol, day, trim_scale(previous_close),"
            " round(realized_volatility::numeric, 9), round(range_pct::numeric, 9), volume,"
            " minutes_observed), ';' ORDER BY symbol, day)) FROM market_metrics_daily"
        ),
    }
    conn = connect(url)
    with conn.cursor() as cur:
        out = {}
        for table, query in queries.items():
            cur.execute(query)
            out[table] = scalar(cur)
    conn.close()
    return out


STAGES = [
    ("candles_1h", write_candles_1h, polars_hours),
    ("candles_1d", write_candles_1d, polars_days),
    ("market_metrics_daily", write_market_metrics, polars_metrics),
]


def build_all(url, engine: str, symbols, lo, hi) -> dict[str, float]:
    times = {}
    for name, sql_write, polars_build in STAGES:
        times[name] = (
            sql_stage(url, sql_write, symbols, lo, hi)
            if engine == "sql"
            else polars_stage(url, polars_build, symbols, lo, hi)
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--symbols", type=int, default=10)
    args = parser.parse_args()
    symbols = SYMBOLS[: args.symbols]
    lo, hi = _day(START), _day(START + timedelta(days=args.days))
    last_day = (_day(START + timedelta(days=args.days - 1)), hi)
    with throwaway_postgres() as server:
        url = fresh_database(server, "bench_aggregates")
        began = time.perf_counter()
        rows = seed_candles_1m(url, symbols, START, args.days)
        seeded = time.perf_counter() - began
        conn = connect(url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE candles_1m")
        conn.close()
        results: dict[str, Any] = {}
        for engine in ("sql", "polars"):
            results[engine] = build_all(url, engine, symbols, lo, hi)
            results[engine + "_digest"] = digests(url)
            results[engine + "_day"] = build_all(url, engine, symbols, *last_day)
        same = {
            t: results["sql_digest"][t] == results["polars_digest"][t]
            for t in results["sql_digest"]
        }
        figures = [
            ("server", "TimescaleDB" if server.timescaledb else "plain PostgreSQL"),
            (
                "load average (1, 5, 15 min)",
                ", ".join(f"{x:.2f}" for x in os.getloadavg()) + " on 2 shared cores",
            ),
            (
                "rows seeded",
                f"{rows:,} 1m candles ({len(symbols)} symbols x {args.days} days) in {seeded:.1f} s",
            ),
        ]
        for name, _, _ in STAGES:
            sql_s, polars_s = results["sql"][name], results["polars"][name]
            figures.append(
                (
                    f"{name} full build",
                    f"SQL {sql_s:6.2f} s | polars {polars_s:6.2f} s | polars/SQL {polars_s / sql_s:4.2f}x",
                )
            )
        for engine in ("sql", "polars"):
            figures.append(
                (f"all three, full build ({engine})", f"{sum(results[engine].values()):6.2f} s")
            )
        for engine in ("sql", "polars"):
            day = results[engine + "_day"]
            figures.append(
                (
                    f"one day incremental, {len(symbols)} symbols ({engine})",
                    f"{sum(day.values()):6.3f} s ({', '.join(f'{k} {v:.3f}' for k, v in day.items())})",
                )
            )
        figures.append(("SQL and polars tables identical", str(same)))
        report("aggregates: SQL vs polars", figures)


if __name__ == "__main__":
    main()
