"""``crypto up [--demo]``: run the whole platform on this machine until Ctrl-C.

Starts (or reuses) the local PostgreSQL when ``DATABASE_URL`` is unset, migrates the schema,
then supervises the platform's services (``services.py``): Dagster's webserver and daemon
(``dagster dev``) and, with ``--demo``, the bundled Binance simulator for machines without
internet. Ctrl-C or SIGTERM stops everything it started; if one service dies, the others are
stopped too and the exit status says which.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from crypto_assets.commands.services import Service, platform_services

STOP_GRACE_S = 15


def register(subparsers) -> None:
    parser = subparsers.add_parser("up", help="run the platform locally (Dagster UI on http://localhost:3000)")
    parser.add_argument("--demo", action="store_true", help="use the bundled Binance simulator instead of Binance (BINANCE_API_URL)")
    parser.add_argument("--dagster-port", type=int, default=3000, help="Dagster UI port (default 3000)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from crypto_assets.environment import prepare_environment

    env = prepare_environment()
    if os.environ.get("CRYPTO_CONFIG"):  # services may run in another directory
        os.environ["CRYPTO_CONFIG"] = str(Path(os.environ["CRYPTO_CONFIG"]).resolve())
    services = platform_services(
        demo=args.demo, dagster_port=args.dagster_port, dashboard_database_url=env.dashboard_url, dagster_home=str(env.dagster_home),
        api_database_url=env.api_url,
    )
    for service in services:
        os.environ.update(service.exports)
    print(
        f"database {'local ' if env.local_server else ''}{_safe(env.database_url)}"
        f" ({'TimescaleDB' if env.timescaledb else 'plain PostgreSQL'}); DAGSTER_HOME {env.dagster_home}",
        flush=True,
    )
    return supervise(services, stop_database=env.local_server)


def _safe(url: str) -> str:
    from crypto_assets.warehouse.db import redact

    return redact(url)


def supervise(services: list[Service], *, stop_database: bool) -> int:
    """Start every service, wait until one exits or we are told to stop, then stop them all
    (and the local PostgreSQL when ``stop_database``: never a server given by ``DATABASE_URL``)."""
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running: list[tuple[Service, subprocess.Popen]] = []
    status = 0
    try:
        for service in services:
            running.append((service, subprocess.Popen(service.argv, env={**os.environ, **service.env}, cwd=service.cwd, start_new_session=True)))
            print(f"started {service.name}: {service.description}", flush=True)
        print("platform is up; Ctrl-C stops it", flush=True)
        while not stopping:
            for service, process in running:
                code = process.poll()
                if code is not None:
                    print(f"{service.name} exited with status {code}; stopping the platform", file=sys.stderr, flush=True)
                    status = code if code > 0 else 128 - code if code < 0 else 1  # killed by a signal: 128+N
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        _stop_all(running)
        if stop_database:
            _stop_local_database()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _stop_all(running: list[tuple[Service, subprocess.Popen]]) -> None:
    for _, process in running:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for service, process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(f"stopped {service.name}", flush=True)


def _stop_local_database() -> None:
    from crypto_assets.warehouse.server import stop_local_server

    if stop_local_server():
        print("stopped local PostgreSQL", flush=True)
