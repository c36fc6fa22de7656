"""``crypto up [--demo]``: run the whole platform on this machine until Ctrl-C.

Starts (or reuses) the local PostgreSQL when ``DATABASE_URL`` is unset, migrates the schema,
then supervises the platform's services (``services.py``): Dagster's webserver and daemon, the
stream collector, the dashboard, the run feed and, with ``--demo``, the bundled Binance
simulator for machines without internet.

The terminal stays quiet: each service's own start line, one line per Dagster run (from the
``runs`` service), and the stop lines. Everything a service prints goes to its log file in
``<data dir>/logs/`` (the previous start's log is kept as ``.log.1``), Dagster's per-event
lines included. While it runs, ``<data dir>/stack.json`` tells ``crypto backfill``, ``audit``
and ``clear`` which database, Dagster instance and exchange to use. Ctrl-C or SIGTERM stops
every service, last started first; if one dies, the others are stopped too and the exit status
says which.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

from crypto_assets.commands.arguments import port_flag
from crypto_assets.commands.errors import UsageError
from crypto_assets.commands.services import (
    API_PORT,
    DAGSTER_PORT,
    DASHBOARD_PORT,
    SIMULATOR_PORT,
    Service,
    platform_services,
)

STOP_GRACE_S = 15
READY_TIMEOUT_S = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_say_lock = threading.Lock()


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "up", help="run the platform locally (Dagster UI on http://localhost:3000)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="use the bundled Binance simulator instead of Binance (BINANCE_API_URL)",
    )
    parser.add_argument(
        "--dagster-port",
        type=port_flag,
        default=DAGSTER_PORT,
        help="Dagster UI port (default %(default)s)",
    )
    parser.add_argument(
        "--dashboard-port",
        type=port_flag,
        default=DASHBOARD_PORT,
        help="dashboard port (default %(default)s)",
    )
    parser.add_argument(
        "--simulator-port",
        type=port_flag,
        default=SIMULATOR_PORT,
        help="with --demo: the simulator's port (default %(default)s)",
    )
    parser.add_argument(
        "--api-port", type=port_flag, default=API_PORT, help="HTTP API port (default %(default)s)"
    )
    parser.set_defaults(handler=run)


def say(text: str) -> None:
    """One line on the terminal (services' threads and the main one take turns)."""
    with _say_lock:
        print(text, flush=True)


def run(args) -> int:
    from crypto_assets.environment import prepare_environment
    from crypto_assets.stack_state import running_stack, state_path
    from crypto_assets.warehouse.db import redact
    from crypto_assets.warehouse.server import local_state_dir

    stack = running_stack()
    if stack is not None:
        raise UsageError(
            f"crypto up is already running as pid {stack.pid} with the data directory {local_state_dir()}"
            f" (see {state_path()}); stop it first, or set CRYPTO_DATA_DIR to run another"
        )
    check_ports(args)
    env = prepare_environment()
    if os.environ.get("CRYPTO_CONFIG"):  # services may run in another directory
        os.environ["CRYPTO_CONFIG"] = str(Path(os.environ["CRYPTO_CONFIG"]).resolve())
    services = platform_services(
        demo=args.demo,
        dagster_port=args.dagster_port,
        dashboard_port=args.dashboard_port,
        simulator_port=args.simulator_port,
        api_port=args.api_port,
        dashboard_database_url=env.dashboard_url,
        dagster_home=str(env.dagster_home),
        api_database_url=env.api_url,
    )
    for service in services:
        os.environ.update(service.exports)
    say(
        f"database {'local ' if env.local_server else ''}{redact(env.database_url)}"
        f" ({'TimescaleDB' if env.timescaledb else 'plain PostgreSQL'}); DAGSTER_HOME {env.dagster_home}"
    )
    return supervise(services, log_dir=local_state_dir() / "logs", stop_database=env.local_server)


def check_ports(args) -> None:
    """Every port ``crypto up`` will listen on is free; else a UsageError naming its flag."""
    wanted = [
        ("--dagster-port", args.dagster_port),
        ("--dashboard-port", args.dashboard_port),
        ("--api-port", args.api_port),
    ]
    if args.demo:
        wanted.append(("--simulator-port", args.simulator_port))
    seen: dict[int, str] = {}
    for flag, port in wanted:
        if port in seen:
            raise UsageError(
                f"flag {flag}: port {port} is already the {seen[port]}; give each service its own port"
            )
        seen[port] = flag
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise UsageError(
                    f"flag {flag}: port {port} is in use by another program (another crypto up?);"
                    f" choose a free one with {flag}"
                ) from None


class _Running:
    """A started service: its process, its log file, the last lines it printed, whether it is ready."""

    def __init__(self, service: Service, log_dir: Path):
        self.service = service
        self.log_path = log_dir / f"{service.name}.log"
        if self.log_path.exists():
            self.log_path.replace(log_dir / f"{service.name}.log.1")
        self.ready = threading.Event()
        self.tail: deque[str] = deque(maxlen=15)
        self.process = subprocess.Popen(
            service.argv,
            env={**os.environ, **service.env},
            cwd=service.cwd,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._pump = threading.Thread(
            target=self._read_output, name=f"{service.name}-output", daemon=True
        )
        self._pump.start()

    def _read_output(self) -> None:
        """Every line to the log file; the service's start line (and, for ``echo`` services,
        its other lines) to the terminal too."""
        ready = re.compile(self.service.ready)
        echo = re.compile(self.service.echo) if self.service.echo else None
        output = self.process.stdout
        if output is None:
            raise RuntimeError(f"{self.service.name} was started without a pipe for its output")
        with self.log_path.open("w") as log:
            for raw in output:
                line = _ANSI.sub("", raw.rstrip("\n"))
                log.write(line + "\n")
                log.flush()
                self.tail.append(line)
                if not self.ready.is_set() and ready.search(line):
                    self.ready.set()
                    say(f"{self.service.name}: {line.strip()}")
                elif echo is not None and echo.search(line):
                    say(line.strip())

    def drain(self) -> None:
        """Wait (briefly) until everything the service printed is in its log and tail."""
        self._pump.join(timeout=5)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self, deadline: float) -> None:
        """Wait until the service and every process it started (its process group: Dagster's
        code servers and run workers, say) are gone; past ``deadline``, kill what is left."""
        while time.monotonic() < deadline and self._group_alive():
            time.sleep(0.1)
        if self._group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.drain()

    def _group_alive(self) -> bool:
        self.process.poll()  # reap the leader, so a finished one no longer counts
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


def supervise(services: list[Service], *, log_dir: Path, stop_database: bool) -> int:
    """Start every service, wait until one exits or we are told to stop, then stop them all (last
    started first; the local PostgreSQL too when ``stop_database``: never a server given by
    ``DATABASE_URL``)."""
    from crypto_assets.stack_state import remove_state, write_state

    stopping = threading.Event()

    def request_stop(signum, frame):
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    log_dir.mkdir(parents=True, exist_ok=True)
    running: list[_Running] = []
    status = 0
    try:
        for service in services:
            running.append(_Running(service, log_dir))
        write_state(dict(os.environ))
        status = _watch(running, stopping, log_dir)
    finally:
        if running:
            say("stopping the platform ...")
        _stop_all(running)
        remove_state()
        if stop_database:
            _stop_local_database()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _watch(running: list[_Running], stopping: threading.Event, log_dir: Path) -> int:
    """Say when every service is ready; return 0 when told to stop, or the status of a service that died."""
    announced = False
    began = time.monotonic()
    while not stopping.wait(0.5):
        for item in running:
            code = item.process.poll()
            if code is not None:
                item.drain()
                say(
                    f"{item.service.name} exited with status {code}; stopping the platform. Its last lines"
                    f" ({item.log_path}):\n  " + "\n  ".join(item.tail)
                )
                return (
                    code if code > 0 else 128 - code if code < 0 else 1
                )  # killed by a signal: 128+N
        if not announced and all(item.ready.is_set() for item in running):
            announced = True
            urls = ", ".join(
                item.service.description for item in running if "http" in item.service.description
            )
            say(f"platform is up: {urls}; service logs in {log_dir}; Ctrl-C stops it")
        elif not announced and time.monotonic() - began > READY_TIMEOUT_S:
            announced = True
            late = ", ".join(
                f"{i.service.name} ({i.log_path})" for i in running if not i.ready.is_set()
            )
            say(f"still waiting for {late} after {READY_TIMEOUT_S} s; see their logs")
    return 0


def _stop_all(running: list[_Running]) -> None:
    """SIGTERM to every service, last started first, then wait for them all within one grace period."""
    for item in reversed(running):
        item.stop()
    deadline = time.monotonic() + STOP_GRACE_S
    for item in reversed(running):
        item.wait_stopped(deadline)
        say(f"stopped {item.service.name}")


def _stop_local_database() -> None:
    from crypto_assets.warehouse.server import stop_local_server

    if stop_local_server():
        say("stopped local PostgreSQL")
