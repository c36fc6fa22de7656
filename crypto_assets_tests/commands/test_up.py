"""``crypto up --demo`` for real, on an empty data directory and free ports: a quiet terminal
(start lines, one line per run, no warnings, no tracebacks, none of Dagster's per-event lines,
on start and on Ctrl-C), service logs under the data directory, and commands run beside it
using its database, Dagster instance and simulator without an export.

One stack serves the module (starting it costs most of the time); the last test stops it.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto_assets.stack_state import SHARED
from crypto_assets.warehouse.server import LocalPostgres
from crypto_assets_tests.stream.helpers import wait_until

CRYPTO = Path(sys.executable).with_name("crypto")
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
START_TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """A ``crypto up --demo`` process and every line it printed."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data"
        self.ports = {
            flag: free_port()
            for flag in ("--dagster-port", "--dashboard-port", "--simulator-port", "--api-port")
        }
        self.pg_port = free_port()
        (root / "crypto.yaml").write_text(f"symbols: [BTCUSDT]\nhistory_start: {YESTERDAY}\n")
        unset = set(SHARED)  # the test's own stack decides them all
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in unset},
            "CRYPTO_DATA_DIR": str(self.data),
            "CRYPTO_LOCAL_PG_PORT": str(self.pg_port),
        }
        argv = [str(CRYPTO), "up", "--demo", *(str(x) for pair in self.ports.items() for x in pair)]
        self.process = subprocess.Popen(
            argv,
            cwd=root,
            env={**self.env, "CRYPTO_CONFIG": str(root / "crypto.yaml")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        output = self.process.stdout
        assert output is not None, "started without stdout=PIPE"
        for line in output:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """The first new line matching ``pattern``; AssertionError on exit or timeout, with the output."""
        regex, deadline = re.compile(pattern), time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no line like {pattern!r} within {timeout} s:\n" + "\n".join(self.lines)
                ) from None
            if line is None:
                raise AssertionError(
                    f"crypto up exited ({self.process.wait()}):\n" + "\n".join(self.lines)
                )
            self.lines.append(line)
            if match := regex.search(line):
                return match

    def crypto(self, *argv: str) -> subprocess.CompletedProcess:
        """A ``crypto`` command beside the stack: same data directory, nothing else exported."""
        return subprocess.run(
            [str(CRYPTO), *argv],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def stop(self) -> None:
        """Ctrl-C, as a user would; killed if it does not stop within a minute."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def stack():
    root = Path(tempfile.mkdtemp(prefix="crypto-up-"))
    root.chmod(0o755)  # the local PostgreSQL runs as its own user when the tests run as root
    running = Stack(root)
    try:
        running.wait_for(r"^platform is up: ", START_TIMEOUT_S)
        yield running
    finally:
        running.stop()
        server = LocalPostgres(running.data / "postgres")
        if server.is_running():  # only when crypto up could not stop it
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_terminal_shows_each_service_start_line(stack):
    ports = stack.ports
    started = "\n".join(stack.lines)
    assert (
        f"simulator: Binance simulator listening on http://127.0.0.1:{ports['--simulator-port']}"
        in started
    )
    assert (
        "dagster-webserver: " in started
        and f"Serving dagster-webserver on http://127.0.0.1:{ports['--dagster-port']}" in started
    )
    assert (
        "dagster-daemon: " in started
        and "Instance is configured with the following daemons" in started
    )
    assert f"dashboard: Local URL: http://localhost:{ports['--dashboard-port']}" in started
    assert "runs: following Dagster runs" in started
    assert (
        "api: " in started
        and f"Uvicorn running on http://127.0.0.1:{ports['--api-port']}" in started
    )
    assert f"Streamlit dashboard on http://localhost:{ports['--dashboard-port']}" in stack.lines[-1]
    logs = stack.data / "logs"
    assert {p.name for p in logs.iterdir()} >= {
        f"{name}.log"
        for name in (
            "simulator",
            "dagster-webserver",
            "dagster-daemon",
            "stream",
            "dashboard",
            "runs",
            "api",
        )
    }


def test_commands_beside_the_stack_use_its_database_instance_and_simulator(stack):
    state = stack.data / "stack.json"
    assert state.exists() and oct(state.stat().st_mode & 0o777) == "0o600"
    audit = stack.crypto("audit", "--json")
    assert audit.returncode == 0, audit.stderr
    assert (
        f"using database postgresql://postgres@127.0.0.1:{stack.pg_port}/crypto, Dagster instance"
        f" {stack.data / 'dagster_home'} (those of the crypto up running as pid {stack.process.pid})"
    ) in audit.stderr
    assert audit.stdout.lstrip().startswith("{")  # the JSON alone on stdout

    # Binance itself is unreachable here: only the stack's simulator can answer this backfill.
    day = str(YESTERDAY)
    backfill = stack.crypto(
        "backfill", "candles_15m", "--start", day, "--end", day, "--symbols", "BTCUSDT"
    )
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    simulator = f"http://127.0.0.1:{stack.ports['--simulator-port']}"
    assert f"exchange {simulator}, archive {simulator} (those of the crypto up" in backfill.stderr
    assert "archive host" not in backfill.stdout + backfill.stderr  # the simulator's files used
    started = re.search(r"^backfill (\w+): ", backfill.stdout, re.M)
    assert started is not None, backfill.stdout
    backfill_id = started.group(1)
    # its run, in the stack's terminal: the line it ends with, with the day's 96 candles (24 h x 4)
    # (and a line when it started, if the feed's poll saw it running: from the simulator's archive
    # it may be done within a second)
    stack.wait_for(
        rf"run \w{{8}} done in [\d.]+ s: candles_15m .*\(crypto backfill {backfill_id}\); rows BTCUSDT 96$",
        60,
    )


def test_ctrl_c_stops_everything_quietly(stack):
    daemon_log = stack.data / "logs" / "dagster-daemon.log"
    # a run the daemon launched has started (its per-event lines go to the daemon's log, below)
    wait_until(lambda: "RUN_START" in daemon_log.read_text(), "a daemon run to start", 120)
    stack.process.send_signal(signal.SIGINT)
    stack.wait_for(r"^stopped local PostgreSQL$", 120)
    assert stack.process.wait(timeout=30) == 0
    output = "\n".join(stack.lines)
    assert "Traceback" not in output
    assert "Warning" not in output and "WARNING" not in output
    assert not re.search(r" - DEBUG - |RUN_START|ASSET_MATERIALIZATION|STEP_", output)
    assert len(stack.lines) < 60, output
    assert [line for line in stack.lines if line.startswith("stopped ")] == [
        "stopped api",
        "stopped runs",
        "stopped dashboard",
        "stopped stream",
        "stopped dagster-daemon",
        "stopped dagster-webserver",
        "stopped simulator",
        "stopped local PostgreSQL",
    ]
    assert not (stack.data / "stack.json").exists()
    # Dagster's per-event lines went to the daemon's log file instead
    assert "RUN_START" in daemon_log.read_text()
