"""``crypto migrate``: create or upgrade the warehouse schema (idempotent; docker-compose runs it first)."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("migrate", help="create or upgrade the warehouse tables")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from crypto_assets.environment import prepare_environment

    env = prepare_environment()
    print(
        f"schema up to date ({'TimescaleDB hypertables' if env.timescaledb else 'plain PostgreSQL'})"
    )
    return 0
