"""``crypto simulator``: serve the Binance simulator until Ctrl-C (options: crypto simulator --help)."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulator",
        help="serve a Binance-compatible simulator for machines without internet",
        add_help=False,
    )
    parser.set_defaults(handler=run, passthrough=True)


def run(args) -> int:
    from crypto_assets.binance.simulator import main

    return main(args.extra)
