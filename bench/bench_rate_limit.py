"""Throughput under Binance's weight limit, as a share of the ceiling (issue 2).

The simulator enforces the real rate on a shorter window (600 weight per 6 s = 6000 per
minute); klines cost 2, so the ceiling is 300 calls x 1000 candles per 6 s = 50,000 candles/s.
The client fetches 1m candles for ``--seconds`` worth of that ceiling; the figure is its
throughput over the ceiling, and the simulator's count of 429 and 418 answers.

    uv run python -m bench.bench_rate_limit [--seconds 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone

import httpx

from bench.harness import median, report, simulator_process
from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.wire import MINUTE_MS, datetime_to_ms

WEIGHT_LIMIT, WINDOW_S = 600, 6
CEILING = WEIGHT_LIMIT // 2 * 1000 / WINDOW_S  # candles per second
START_MS = datetime_to_ms(datetime(2017, 9, 1, tzinfo=timezone.utc))  # 3 runs x 30 s stay in the past


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    candles = int(CEILING * args.seconds)
    shares, throttled = [], []
    with simulator_process("--weight-limit", str(WEIGHT_LIMIT), "--window-seconds", str(WINDOW_S)) as url:
        for attempt in range(args.repeat):
            httpx.post(f"{url}/_sim/reset")
            start = START_MS + attempt * candles * MINUTE_MS
            with BinanceRestClient(url, limiter=WeightLimiter(), concurrency=4) as client:
                client.exchange_info(["BTCUSDT"])
                client.server_time_ms()
                began = time.perf_counter()
                got = sum(len(page) for page in client.iter_klines("BTCUSDT", "1m", start, start + candles * MINUTE_MS))
                seconds = time.perf_counter() - began
            stats = httpx.get(f"{url}/_sim/stats").json()
            shares.append(got / seconds / CEILING)
            throttled.append(stats.get("429", 0) + stats.get("418", 0))
            print(f"run {attempt + 1}: {got:,} candles in {seconds:.1f} s = {got / seconds:,.0f}/s "
                  f"({shares[-1]:.2f} of ceiling), 429/418: {throttled[-1]}", flush=True)
    report(
        f"rate-limited throughput, {WEIGHT_LIMIT} weight per {WINDOW_S} s (ceiling {CEILING:,.0f} candles/s), median of {args.repeat}",
        [
            ("share of ceiling (target >= 0.9)", f"{median(shares):.2f}"),
            ("429 + 418 answers (target 0)", f"{sum(throttled)}"),
        ],
    )


if __name__ == "__main__":
    main()
