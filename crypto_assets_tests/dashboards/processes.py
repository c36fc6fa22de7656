"""Server processes the dashboard tests run for real: the Streamlit app, a Dagster webserver.

Readiness is read from the process's own log line (no polling, no sleeps); a process that
dies or stays silent fails the test with its output.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class _Lines:
    """Every line a process writes (stdout and stderr merged), readable with a timeout."""

    def __init__(self, process: subprocess.Popen):
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """The first line matching ``pattern``; AssertionError on exit or timeout."""
        regex = re.compile(pattern)
        try:
            while True:
                line = self._queue.get(timeout=timeout)
                if line is None:
                    raise AssertionError("the process exited:\n" + "".join(self.seen[-40:]))
                self.seen.append(line)
                if match := regex.search(line):
                    return match
        except queue.Empty:
            raise AssertionError(
                f"no line like {pattern!r} within {timeout} s:\n" + "".join(self.seen[-40:])
            ) from None


@contextlib.contextmanager
def running(
    argv: list[str], env: dict[str, str], ready: str, timeout: float = 120
) -> Iterator[re.Match]:
    """Run ``argv`` until the block ends; yields the match of its ``ready`` log line."""
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield _Lines(process).wait_for(ready, timeout)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def streamlit(port: int, env: dict[str, str]):
    """The dashboard as ``crypto up`` runs it, on ``port``."""
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboards" / "app.py"),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
    ]
    return running(argv, env, r"You can now view your Streamlit app")


def dagster_webserver(port: int, module: str, dagster_home: Path):
    """A Dagster webserver loading ``module`` over the instance in ``dagster_home``."""
    argv = [
        sys.executable,
        "-m",
        "dagster_webserver",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        module,
    ]
    return running(argv, {"DAGSTER_HOME": str(dagster_home)}, r"Serving dagster-webserver on")
