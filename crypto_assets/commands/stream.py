"""``crypto stream``: run the live collector until Ctrl-C or SIGTERM; ``--healthcheck`` reads its heartbeat.

Symbols and the sampling interval come from the config (``CRYPTO_CONFIG``), the stream from
``BINANCE_WS_URL``, the symbol check from ``BINANCE_API_URL``, the warehouse from
``DATABASE_URL`` (unset: the local server, started if needed, as for every command).
``--healthcheck`` exits 0 when every connection's heartbeat and last message are at most
``--max-age`` seconds old (docker-compose's healthcheck), 1 otherwise, printing one line each.
"""

from __future__ import annotations

import logging

from crypto_assets.commands.arguments import seconds_flag


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "stream", help="collect Binance kline_1m streams into candles_1m and price_samples"
    )
    parser.add_argument(
        "--healthcheck",
        action="store_true",
        help="check the running collector's heartbeat and exit 0 (healthy) or 1",
    )
    parser.add_argument(
        "--max-age",
        type=seconds_flag,
        default=60.0,
        metavar="SECONDS",
        help="with --healthcheck: oldest acceptable heartbeat and last message (default %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    from crypto_assets.environment import prepare_environment
    from crypto_assets.settings import load_settings

    settings = load_settings()
    if args.healthcheck:
        from crypto_assets.warehouse.server import local_database_url

        # A health check only looks: it never starts the local server.
        return _healthcheck(settings.database_url or local_database_url(), args.max_age)
    from crypto_assets.stream.collector import CollectorConfig, serve

    env = prepare_environment()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    serve(
        CollectorConfig(
            symbols=settings.symbols,
            ws_url=settings.binance_ws_url,
            api_url=settings.binance_api_url,
            database_url=env.database_url,
            sampling_interval_s=settings.sampling_interval_seconds,
            flush_interval_s=settings.stream_flush_interval_seconds,
            buffer_rows=settings.stream_buffer_rows,
            streams_per_connection=settings.stream_streams_per_connection,
            idle_timeout_s=settings.stream_idle_timeout_seconds,
        )
    )
    return 0


def _healthcheck(database_url: str, max_age_s: float) -> int:
    from crypto_assets.stream.heartbeat import read_health
    from crypto_assets.warehouse.db import connect

    conn = connect(database_url, attempts=1)
    try:
        with conn.cursor() as cur:
            connections = read_health(cur)
    finally:
        conn.close()
    if not connections:
        print("unhealthy: no collector heartbeat in stream_heartbeats")
        return 1
    for c in connections:
        message = "never" if c.message_age_s is None else f"{c.message_age_s:.1f} s ago"
        state = "ok" if c.healthy(max_age_s) else "STALE"
        paused = (
            f", not streaming {', '.join(f'{s} ({why})' for s, why in sorted(c.not_streaming.items()))}"
            if c.not_streaming
            else ""
        )
        print(
            f"{c.connection_id}: {state}; {c.streams} streams, heartbeat "
            f"{c.heartbeat_age_s:.1f} s ago, last message {message},"
            f" {c.reconnect_count} reconnects, {c.malformed_count} malformed{paused}"
        )
    return 0 if all(c.healthy(max_age_s) for c in connections) else 1
