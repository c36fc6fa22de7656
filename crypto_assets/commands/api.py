"""``crypto api [--host 127.0.0.1] [--port 8000]``: serve the read-only HTTP API until Ctrl-C.

It reads ``DATABASE_URL`` as given (``crypto up`` and docker-compose give it the ``crypto_api``
read-only role's URL); unset, it starts or reuses the local server, migrates it and logs in as
``crypto_api``. Symbols, window widths and ``api_tokens`` come from the config (``CRYPTO_CONFIG``).
"""

from __future__ import annotations

from crypto_assets.commands.arguments import port_flag
from crypto_assets.commands.services import API_PORT


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "api", help=f"serve the read-only HTTP API (docs on http://127.0.0.1:{API_PORT}/docs)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default %(default)s; 0.0.0.0 for every interface)",
    )
    parser.add_argument(
        "--port", type=port_flag, default=API_PORT, help="port (default %(default)s)"
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    import uvicorn

    from crypto_assets.api import ApiConfig, create_app
    from crypto_assets.settings import load_settings

    settings = load_settings()
    database_url = settings.database_url
    if database_url is None:
        from crypto_assets.environment import prepare_environment

        env = prepare_environment()
        database_url = env.api_url or env.database_url
    app = create_app(ApiConfig.from_settings(settings, database_url))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
