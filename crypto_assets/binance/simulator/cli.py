"""``crypto simulator`` / ``python -m crypto_assets.binance.simulator``: serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import ctypes
import signal
import sys
import threading

from crypto_assets.binance.simulator.server import SimulatorServer
from crypto_assets.commands.arguments import (
    Parser,
    count_flag,
    count_or_zero_flag,
    listen_port_flag,
)

DEFAULT_PORT = 8700
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def _keep_buffers_on_heap() -> None:
    """Serve large numpy buffers from the heap instead of fresh mmaps (glibc only).

    A 1m day block is encoded through ~1 MB of temporary arrays; glibc gives allocations
    that large fresh pages from mmap, and faulting them in cost a third of the encoding time
    (1.47 -> 0.95 ms a block). The CLI owns its process, so it may tune malloc for it.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: nothing to tune
    libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
    libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def _parser() -> Parser:
    parser = Parser(
        prog="crypto simulator",
        description="Serve a Binance spot simulator: REST (klines, exchangeInfo, ticker/price, ping, time), "
        "WebSocket kline_1m streams (/ws/<stream>, /stream?streams=..) and the kline archive "
        "(/data/spot/..) on the same port.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=listen_port_flag,
        default=DEFAULT_PORT,
        help="port, 0 for any free one (default: %(default)s)",
    )
    parser.add_argument(
        "--weight-limit",
        type=count_flag,
        default=6000,
        help="REQUEST_WEIGHT per window (default: %(default)s)",
    )
    parser.add_argument(
        "--window-seconds",
        type=count_flag,
        default=60,
        help="length of a weight window (default: %(default)s)",
    )
    parser.add_argument(
        "--no-limits", action="store_true", help="never answer 429/418 (weight is still reported)"
    )
    parser.add_argument(
        "--recordings",
        action="store_true",
        help="serve the recorded real BTCUSDT candles where they exist",
    )
    parser.add_argument(
        "--extra-symbols",
        type=count_or_zero_flag,
        default=0,
        metavar="N",
        help="add N synthetic symbols SYM0001USDT..",
    )
    parser.add_argument(
        "--cache-mb",
        type=count_flag,
        default=128,
        metavar="MB",
        help="memory for encoded klines pages (default: %(default)s)",
    )
    parser.add_argument(
        "--archive-cache-mb",
        type=count_flag,
        default=256,
        metavar="MB",
        help="memory for built archive zips (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simulator in the foreground; returns the exit code."""
    args = _parser().parse_args(argv)
    _keep_buffers_on_heap()
    server = SimulatorServer(
        args.host,
        args.port,
        weight_limit=args.weight_limit,
        window_seconds=args.window_seconds,
        enforce_limits=not args.no_limits,
        recordings=args.recordings,
        extra_symbols=args.extra_symbols,
        cache_bytes=args.cache_mb << 20,
        archive_cache_bytes=args.archive_cache_mb << 20,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.start()
    except OSError as err:
        print(
            f"crypto simulator: error: flag --port: cannot listen on {args.host}:{args.port} ({err.__cause__ or err});"
            " choose another --port",
            file=sys.stderr,
        )
        return 2
    try:
        print(
            f"Binance simulator listening on {server.url} (streams on {server.ws_url}; Ctrl-C to stop)",
            flush=True,
        )
        stop.wait()
    finally:
        server.stop()
    print("Binance simulator stopped", flush=True)
    return 0
