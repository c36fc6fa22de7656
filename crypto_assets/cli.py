"""The ``crypto`` command: one console script, one module per subcommand in ``commands/``.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler(args) -> int``. Errors the user can fix (bad config, bad dates, unknown symbols,
unreachable services) print one clear line and exit 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys

from crypto_assets.binance.errors import BinanceError
from crypto_assets.commands import api, audit, backfill, clear, migrate, simulator, stream, up
from crypto_assets.commands.errors import UsageError
from crypto_assets.settings import ConfigError
from crypto_assets.warehouse.db import DatabaseUnavailableError
from crypto_assets.warehouse.server import LocalPostgresError

COMMANDS = [up, backfill, migrate, simulator, stream, audit, clear, api]
USER_ERRORS = (UsageError, ConfigError, BinanceError, DatabaseUnavailableError, LocalPostgresError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crypto", description="crypto-assets: Binance market data on Dagster and TimescaleDB.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return args.handler(args)
    except USER_ERRORS as err:
        print(f"crypto {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"crypto {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
