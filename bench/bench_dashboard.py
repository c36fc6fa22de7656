"""Benchmark: the server-side time to produce each dashboard page's data, and the points it sends.

Seeds one year of 1m candles for 10 symbols (5.26 million rows, ``bench/seed.py``) in a
throwaway PostgreSQL (TimescaleDB when installed), builds candles_15m from them and the
rollups the assets build (candles_1h, candles_1d, market_metrics_daily, with
``crypto_assets.warehouse.rollups``), adds the last seven days of 2-second price samples and their
1m/5m windows, and one stream heartbeat; then VACUUM ANALYZE (the state autovacuum keeps).

Each scenario calls the page's ``*_view`` function (what the dashboard caches) on an open
connection, cycling through the symbols, and reports p50/p95 wall time of query + fetch +
frame building, and the points each chart gets. The Streamlit cache (30 s) is not involved:
these are the misses.

    uv run python -m bench.bench_dashboard [--days 365] [--symbols 10] [--repeats 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg2
from psycopg2.extensions import connection

from bench.harness import fresh_database, throwaway_postgres
from bench.seed import seed_candles_1m
from crypto_assets.warehouse.db import scalar
from crypto_assets.warehouse.queries.candles import market_view
from crypto_assets.warehouse.queries.health import health_view
from crypto_assets.warehouse.queries.live import live_view
from crypto_assets.warehouse.queries.metrics import volatility_view
from crypto_assets.warehouse.queries.samples import downsampled_view
from crypto_assets.warehouse.rollups import (
    write_candles_1d,
    write_candles_1h,
    write_market_metrics,
    write_price_downsampled,
)
from crypto_assets.warehouse.schema import has_timescaledb

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
SAMPLE_DAYS = 7
TARGET_P95_MS = 150


@dataclass(frozen=True)
class Scenario:
    page: str
    view: str
    run: Callable[[connection, str], Any]  # (connection, symbol) -> page data
    points: Callable[[Any], str]  # page data -> points per chart, described


def _utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def seed(url: str, symbols: list[str], days: int) -> dict[str, float]:
    """Fill every table the dashboard reads; returns seconds per step."""
    took = {}
    began = time.perf_counter()
    rows = seed_candles_1m(url, symbols, START, days)
    took[f"candles_1m ({rows:,} rows)"] = time.perf_counter() - began
    lo, hi = _utc(START), _utc(START + timedelta(days=days))
    samples_lo = hi - timedelta(days=SAMPLE_DAYS)
    steps = {
        "candles_15m": lambda cur, s: cur.execute(
            "INSERT INTO candles_15m SELECT symbol, date_bin('15 minutes', open_time, %(lo)s) AS t,"
            " max(close_time), (array_agg(open ORDER BY open_time))[1], max(high), min(low),"
            " (array_agg(close ORDER BY open_time DESC))[1], sum(volume), sum(quote_volume), sum(trade_count),"
            " sum(taker_buy_base_volume), sum(taker_buy_quote_volume)"
            " FROM candles_1m WHERE symbol = %(s)s GROUP BY symbol, t",
            {"s": s, "lo": lo},
        ),
        "candles_1h": lambda cur, s: write_candles_1h(cur, s, lo, hi),
        "candles_1d": lambda cur, s: write_candles_1d(cur, s, lo, hi),
        "market_metrics_daily": lambda cur, s: write_market_metrics(cur, s, lo, hi),
        "price_samples (every 2 s, last 7 days)": lambda cur, s: cur.execute(
            "INSERT INTO price_samples SELECT symbol, open_time + k * interval '2 seconds',"
            " round(open + (close - open) * k / 30.0, 2)"
            " FROM candles_1m, generate_series(0, 29) k WHERE symbol = %(s)s AND open_time >= %(lo)s",
            {"s": s, "lo": samples_lo},
        ),
        "price_downsampled (1m, 5m)": lambda cur, s: write_price_downsampled(
            cur, s, samples_lo, hi, [60, 300]
        ),
    }
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for name, step in steps.items():
            began = time.perf_counter()
            for symbol in symbols:
                step(cur, symbol)
            conn.commit()
            took[name] = time.perf_counter() - began
        cur.execute(
            "INSERT INTO stream_heartbeats (connection_id, streams, connected_at, last_message_at, reconnect_count)"
            " VALUES ('bench-0', %s, now() - interval '1 hour', now(), 2)",
            (len(symbols),),
        )
    conn.close()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    began = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    took["VACUUM ANALYZE"] = time.perf_counter() - began
    return took


def scenarios(last_day: date, symbols: list[str]) -> list[Scenario]:
    """A typical view and the heaviest one of each page."""
    end = _utc(last_day + timedelta(days=1))
    first = _utc(START)
    others = symbols[:3]

    def market(interval: str, start: datetime, ma=(20, 50), compare=()):
        return lambda conn, s: market_view(conn, s, interval, start, end, ma, compare)

    def candles(v) -> str:
        lines = (
            f"; compare {len(v.compare)} lines x {v.compare[0].points} = {sum(c.points for c in v.compare)}"
            if v.compare
            else ""
        )
        return f"{v.main.points} candles of {v.main.bucket} from {'+'.join(v.main.sources)}{lines}"

    return [
        Scenario(
            "Market",
            "15m, last 7 days, MA 20/50, VWAP (default)",
            market("15m", end - timedelta(days=7)),
            candles,
        ),
        Scenario("Market", "1m, last day", market("1m", end - timedelta(days=1)), candles),
        Scenario("Market", "1m, whole year", market("1m", first), candles),
        Scenario(
            "Market",
            "1h, whole year, MA 200, compare 3 symbols",
            market("1h", first, (50, 200), others),
            candles,
        ),
        Scenario(
            "Downsampled",
            "1m windows, last hour (default)",
            lambda conn, s: downsampled_view(conn, s, timedelta(minutes=1), timedelta(hours=1)),
            lambda v: (
                f"{v.points} values (raw {v.raw.height}{' bands' if v.raw_bucket else ''}, "
                f"{v.windows.height} windows x 2)"
            ),
        ),
        Scenario(
            "Downsampled",
            "1m windows, 7 days (merged)",
            lambda conn, s: downsampled_view(conn, s, timedelta(minutes=1), timedelta(days=7)),
            lambda v: (
                f"{v.points} values (raw {v.raw.height} bands, {v.windows.height} windows x 2)"
            ),
        ),
        Scenario(
            "Volatility",
            "2 symbols, 180 days, 30-day window (default)",
            lambda conn, s: volatility_view(
                conn, [s, "BTCUSDT"], last_day - timedelta(days=179), last_day, 30
            ),
            lambda v: ", ".join(f"{k} {n}" for k, n in v.points.items()),
        ),
        Scenario(
            "Volatility",
            "5 symbols, whole year, 90-day window",
            lambda conn, s: volatility_view(conn, [s, *symbols[:4]], START, last_day, 90),
            lambda v: ", ".join(f"{k} {n}" for k, n in v.points.items()),
        ),
        Scenario(
            "Live",
            "one symbol (each 3 s refresh)",
            lambda conn, s: live_view(conn, s),
            lambda v: f"{v.last_hour.height} candles",
        ),
        Scenario(
            "Data health",
            "7 tables, gaps over 7 days",
            lambda conn, s: health_view(conn, timedelta(days=7)),
            lambda v: f"tables only: {sum(t.series.height for t in v.tables)} series rows",
        ),
        Scenario(
            "Data health",
            "gaps over 30 days",
            lambda conn, s: health_view(conn, timedelta(days=30)),
            lambda v: f"tables only: {sum(t.series.height for t in v.tables)} series rows",
        ),
    ]


def measure(
    url: str, scenario: Scenario, symbols: list[str], repeats: int
) -> tuple[float, float, str]:
    """(p50 ms, p95 ms, points) over ``repeats`` calls after two warm-ups."""
    conn = psycopg2.connect(url, options="-c TimeZone=UTC")
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    times = []
    try:
        for i in range(repeats + 2):
            symbol = symbols[i % len(symbols)]
            began = time.perf_counter()
            data = scenario.run(conn, symbol)
            elapsed = time.perf_counter() - began
            conn.rollback()
            if i >= 2:
                times.append(elapsed * 1000)
    finally:
        conn.close()
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
    return statistics.median(times), p95, scenario.points(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    symbols = SYMBOLS[: args.symbols]
    with throwaway_postgres() as server:
        url = fresh_database(server, "bench_dashboard")
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('server_version')")
            engine = f"PostgreSQL {scalar(cur)}" + (
                " + TimescaleDB" if has_timescaledb(conn) else ""
            )
        conn.close()
        print(
            f"# dashboard benchmark: {engine}, {args.days} days x {len(symbols)} symbols, "
            f"load {os.getloadavg()[0]:.1f}/{os.getloadavg()[1]:.1f}/{os.getloadavg()[2]:.1f}"
        )
        for step, seconds in seed(url, symbols, args.days).items():
            print(f"  seeded {step}: {seconds:.1f} s")
        last_day = START + timedelta(days=args.days - 1)
        print(
            "\n| page | view | p50 ms | p95 ms | points per chart |\n| --- | --- | --- | --- | --- |"
        )
        worst = 0.0
        for scenario in scenarios(last_day, symbols):
            p50, p95, points = measure(url, scenario, symbols, args.repeats)
            worst = max(worst, p95)
            print(
                f"| {scenario.page} | {scenario.view} | {p50:.1f} | {p95:.1f} | {points} |",
                flush=True,
            )
        print(
            f"\nworst p95 {worst:.1f} ms (target <= {TARGET_P95_MS} ms); "
            f"load after {os.getloadavg()[0]:.1f}/{os.getloadavg()[1]:.1f}/{os.getloadavg()[2]:.1f}"
        )


if __name__ == "__main__":
    main()
