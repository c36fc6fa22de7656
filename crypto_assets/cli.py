"""The ``crypto`` command: one console script, one module per subcommand in ``commands/``.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``handler(args) -> int``. Errors the user can fix (bad config, bad dates, unknown symbols,
unreachable services) print one clear line and exit 2, without a traceback.
"""

from __future__ import annotations

import gc
import sys

from crypto_assets.binance.errors import BinanceError
from crypto_assets.commands import api, audit, backfill, clear, migrate, simulator, stream, up
from crypto_assets.commands.arguments import Parser
from crypto_assets.commands.errors import UsageError
from crypto_assets.inputs import closest
from crypto_assets.settings import ConfigError
from crypto_assets.warehouse.db import DatabaseUnavailableError
from crypto_assets.warehouse.server import LocalPostgresError

COMMANDS = [up, backfill, migrate, simulator, stream, audit, clear, api]
USER_ERRORS = (UsageError, ConfigError, BinanceError, DatabaseUnavailableError, LocalPostgresError)


def build_parser() -> Parser:
    parser = Parser(
        prog="crypto", description="crypto-assets: Binance market data on Dagster and TimescaleDB."
    )
    subparsers = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    for module in COMMANDS:
        module.register(subparsers)
    parser.commands = subparsers.choices
    return parser


def _refuse_unknown_flags(parser: Parser, command: str, extra: list[str]) -> None:
    """Exit 2 with 'unrecognized arguments: --sybmols X (did you mean '--symbols'?)'."""
    subparser = parser.commands[command]
    flags = [flag for action in subparser._actions for flag in action.option_strings]
    first_flag = next((word.split("=")[0] for word in extra if word.startswith("--")), None)
    hint = closest(first_flag, flags) if first_flag else ""
    subparser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:  # a bad argument, or --help: argparse exits (2, or 0); main returns the status instead
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "passthrough", False):
            _refuse_unknown_flags(parser, args.command, extra)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 2
    args.extra = extra
    try:
        return args.handler(args)
    except USER_ERRORS as err:
        print(f"crypto {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"crypto {args.command}: interrupted", file=sys.stderr)
        return 130


def entry() -> None:
    """The console script: ``main``, then exit without the interpreter's last garbage collection.

    That collection walks every object of the ~1,300 modules a Dagster command imports: 0.6 s
    and more after ``crypto backfill``, for memory the process is handing back anyway.
    ``gc.freeze`` takes everything out of its reach; files still flush and close as usual.
    Not in ``main``: tests call that in their own process, which goes on.
    """
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    entry()
