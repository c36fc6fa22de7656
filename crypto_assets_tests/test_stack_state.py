"""What a command beside a running ``crypto up`` takes from it (``stack.json``), and what it keeps.

The running stack is a real process whose command line reads like ``crypto up`` (a sleeping
Python, named so), recorded by ``write_state`` as ``crypto up`` records itself.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crypto_assets import stack_state


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """A live process that looks like ``crypto up`` to ``running_stack``; writes its state."""
    monkeypatch.setenv("CRYPTO_DATA_DIR", str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "crypto", "up"]
    )
    cmdline, deadline = Path(f"/proc/{process.pid}/cmdline"), time.monotonic() + 10
    while b"crypto" not in cmdline.read_bytes():  # until the fork has become that command
        assert time.monotonic() < deadline, "the stand-in crypto up did not start"
        time.sleep(0.01)

    def record(env: dict[str, str]) -> None:
        path = stack_state.write_state(env)
        state = json.loads(path.read_text())
        path.write_text(json.dumps({**state, "pid": process.pid}))

    yield record
    process.kill()
    process.wait()


def unset(monkeypatch, *names: str) -> None:
    """Unset ``names`` for the test, and have whatever the test sets under them undone after."""
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_an_archive_turned_off_by_the_stack_stays_off_beside_it(stack, monkeypatch):
    stack({"BINANCE_API_URL": "http://127.0.0.1:9311", "BINANCE_ARCHIVE_URL": ""})
    unset(monkeypatch, "BINANCE_API_URL", "BINANCE_ARCHIVE_URL")
    running = stack_state.use_running_stack()
    assert running is not None
    assert set(running.adopted) == {"BINANCE_API_URL", "BINANCE_ARCHIVE_URL"}
    assert stack_state.os.environ["BINANCE_ARCHIVE_URL"] == ""  # REST only, like the stack


def test_the_demo_archive_is_taken_unless_the_user_turned_it_off(stack, monkeypatch):
    stack({"BINANCE_ARCHIVE_URL": "http://127.0.0.1:9311", "CRYPTO_CONFIG": "/c.yaml"})
    monkeypatch.setenv("BINANCE_ARCHIVE_URL", "")  # the user's own choice: no archive
    unset(monkeypatch, "CRYPTO_CONFIG")
    running = stack_state.use_running_stack()
    assert running is not None
    assert running.adopted == ("CRYPTO_CONFIG",)
    assert stack_state.os.environ["BINANCE_ARCHIVE_URL"] == ""
    line = stack_state.endpoints("postgresql://u:pw@h/db", "/home", running, "http://x", "")
    assert line == (
        "using database postgresql://u:***@h/db, Dagster instance /home, exchange http://x,"
        " archive none (every candle from REST) (those of the crypto up running as pid"
        f" {running.pid}, except BINANCE_ARCHIVE_URL as set in the environment)"
    )
