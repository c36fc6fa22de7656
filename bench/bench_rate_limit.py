"""Throughput under Binance's weight limit, as a share of the ceiling (issue 2).

The simulator enforces the real rate on a shorter window (600 weight per 6 s = 6000 per
minute); klines cost 2, so the ceiling is 300 calls x 1000 candles per 6 s = 50,000 candles/s.
One client, then two clients with their own limiters side by side (like two processes on one
IP), fetch 1m candles for ``--seconds`` worth of that ceiling; the figures are their combined
throughput over the whole windows of the run, as a share of the ceiling, and the simulator's
count of 429 and 418 answers.

    uv run python -m bench.bench_rate_limit [--seconds 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import threading
import time
from datetime import UTC, datetime

import httpx

from bench.harness import median, report, simulator_process
from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.wire import MINUTE_MS, datetime_to_ms

WEIGHT_LIMIT, WINDOW_S = 600, 6
CEILING = WEIGHT_LIMIT // 2 * 1000 / WINDOW_S  # candles per second
START_MS = datetime_to_ms(datetime(2017, 9, 1, tzinfo=UTC))  # 30 s of ceiling stays in the past
SYMBOLS = ("BTCUSDT", "ETHUSDT")  # one per client


def fetch_at_once(url: str, clients: int, candles: int) -> list[tuple[float, int]]:
    """``clients`` REST clients, each with its own limiter (like separate processes on one IP),
    fetch ``candles`` 1m candles each, side by side; returns (wall time, candles) per page received."""
    pages: list[tuple[float, int]] = []
    with contextlib.ExitStack() as open_clients:
        ready = []
        for _ in range(clients):
            client = open_clients.enter_context(
                BinanceRestClient(url, limiter=WeightLimiter(), concurrency=4)
            )
            client.exchange_info(list(SYMBOLS))
            client.server_time_ms()
            ready.append(client)

        def fetch(index: int) -> None:
            for page in ready[index].iter_klines(
                SYMBOLS[index], "1m", START_MS, START_MS + candles * MINUTE_MS
            ):
                pages.append((time.time(), len(page)))

        threads = [threading.Thread(target=fetch, args=(index,)) for index in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return pages


def steady_rate(pages: list[tuple[float, int]]) -> tuple[float, int]:
    """Candles per second over the whole weight windows of the run, and how many windows that is.

    A run that starts mid-window gets that window's full budget early, and one that ends
    mid-window stops before its budget is spent: both would skew a plain total / time.
    """
    times = [at for at, _ in pages]
    first = math.ceil(min(times) / WINDOW_S) * WINDOW_S
    last = math.floor(max(times) / WINDOW_S) * WINDOW_S
    if last - first < 2 * WINDOW_S:
        raise SystemExit(f"the run spans fewer than 2 whole {WINDOW_S} s windows: raise --seconds")
    fetched = sum(n for at, n in pages if first <= at < last)
    return fetched / (last - first), int((last - first) // WINDOW_S)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    figures = []
    with simulator_process(
        "--weight-limit", str(WEIGHT_LIMIT), "--window-seconds", str(WINDOW_S)
    ) as url:
        for clients in (1, 2):
            candles = int(CEILING * args.seconds / clients)
            shares, throttled = [], []
            for attempt in range(args.repeat):
                httpx.post(f"{url}/_sim/reset")
                rate, windows = steady_rate(fetch_at_once(url, clients, candles))
                stats = httpx.get(f"{url}/_sim/stats").json()
                shares.append(rate / CEILING)
                throttled.append(stats.get("429", 0) + stats.get("418", 0))
                print(
                    f"{clients} client(s), run {attempt + 1}: {rate:,.0f} candles/s over {windows} whole windows "
                    f"({shares[-1]:.2f} of ceiling), 429/418: {throttled[-1]}",
                    flush=True,
                )
            figures += [
                (
                    f"{clients} client(s) at once: share of ceiling (target >= 0.9)",
                    f"{median(shares):.2f}",
                ),
                (f"{clients} client(s) at once: 429 + 418 answers (target 0)", f"{sum(throttled)}"),
            ]
    report(
        f"rate-limited throughput, {WEIGHT_LIMIT} weight per {WINDOW_S} s (ceiling "
        f"{CEILING:,.0f} candles/s), median of {args.repeat}",
        figures,
    )


if __name__ == "__main__":
    main()
