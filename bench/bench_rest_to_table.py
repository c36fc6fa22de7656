"""REST-to-table throughput vs raw COPY (issue 2).

One year of 1m candles for 2 symbols (1,051,200 rows) fetched from the simulator (limits off)
and written to ``candles_1m`` by the platform's ingest path, next to a raw COPY of the same rows
into the same (emptied) table. Prints the median of ``--repeat`` runs and the ratio.

A first, uncounted pass warms the simulator's page cache: in production Binance's CPU is not on
this machine, so the measured runs charge this machine only for what the platform does.

    uv run python -m bench.bench_rest_to_table [--days 365] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.harness import fresh_database, median, report, simulator_process, throwaway_postgres
from crypto_assets.assets.kline_ingest import ingest_klines
from crypto_assets.assets.kline_source import KlineSource
from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.wire import datetime_to_ms
from crypto_assets.warehouse.db import connect

SYMBOLS = ("BTCUSDT", "ETHUSDT")
START = datetime(2023, 1, 1, tzinfo=UTC)


def ingest_all(url: str, db_url: str, start_ms: int, end_ms: int, concurrency: int) -> int:
    """Fetch and store every candle of the range; returns the rows written.

    The simulator's weight count is reset first: a pass costs about 2,100 weight, so three
    passes in one minute would pass Binance's 6000 per minute, and the limiter (rightly) waits
    for the next minute. That is what ``bench_rate_limit`` measures; here it would only add noise.
    """
    httpx.post(f"{url}/_sim/reset").raise_for_status()
    conn = connect(db_url)
    try:
        with (
            conn,
            conn.cursor() as cur,
            BinanceRestClient(url, limiter=WeightLimiter(), concurrency=concurrency) as client,
        ):
            return sum(
                ingest_klines(
                    KlineSource(client),
                    cur,
                    "candles_1m",
                    s,
                    "1m",
                    start_ms,
                    end_ms,
                    constants={"is_closed": "true", "source": "rest"},
                ).rows
                for s in SYMBOLS
            )
    finally:
        conn.close()


def dump_rows(db_url: str) -> str:
    conn = connect(db_url)
    try:
        buffer = io.StringIO()
        with conn.cursor() as cur:
            cur.copy_expert("COPY (SELECT * FROM candles_1m) TO STDOUT", buffer)
        return buffer.getvalue()
    finally:
        conn.close()


def raw_copy(db_url: str, text: str) -> None:
    conn = connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.copy_expert("COPY candles_1m FROM STDIN", io.StringIO(text))
    finally:
        conn.close()


def truncate(db_url: str) -> None:
    conn = connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE candles_1m")
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    start_ms = datetime_to_ms(START)
    end_ms = datetime_to_ms(START + timedelta(days=args.days))
    ours, baseline = [], []
    with (
        throwaway_postgres() as server,
        simulator_process("--no-limits", "--cache-mb", "1024") as url,
    ):
        db_url = fresh_database(server, "bench_rest")
        ingest_all(url, db_url, start_ms, end_ms, args.concurrency)  # warm-up, not counted
        for attempt in range(args.repeat):
            truncate(db_url)
            began = time.perf_counter()
            rows = ingest_all(url, db_url, start_ms, end_ms, args.concurrency)
            ours.append(rows / (time.perf_counter() - began))
            text = dump_rows(db_url)
            truncate(db_url)
            began = time.perf_counter()
            raw_copy(db_url, text)
            baseline.append(rows / (time.perf_counter() - began))
            print(
                f"run {attempt + 1}: {rows:,} rows; REST-to-table {ours[-1]:,.0f}/s, raw COPY {baseline[-1]:,.0f}/s",
                flush=True,
            )
    report(
        f"REST-to-table vs raw COPY: {args.days} days of 1m candles x {len(SYMBOLS)} symbols "
        f"({rows:,} rows), median of {args.repeat}",
        [
            ("REST-to-table (candles/s)", f"{median(ours):,.0f}"),
            ("raw COPY (candles/s)", f"{median(baseline):,.0f}"),
            (
                "ratio, median of per-run ratios (target >= 0.7)",
                f"{median([o / b for o, b in zip(ours, baseline, strict=True)]):.2f}",
            ),
        ],
    )


if __name__ == "__main__":
    main()
