"""Bad input through the real ``crypto`` command: one line naming the culprit, exit 2, no traceback.

Each case runs the console script in a subprocess, as a user would, with a config file and an
environment of its own (nothing reaches a database or an exchange: every case fails first).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

CRYPTO = Path(sys.executable).with_name("crypto")


def crypto(
    args: list[str], tmp_path: Path, config: str = "symbols: [BTCUSDT]\n", **env: str
) -> subprocess.CompletedProcess:
    config_path = tmp_path / "crypto.yaml"
    config_path.write_text(config)
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DAGSTER_HOME", "BINANCE_API_URL"}
    }
    return subprocess.run(
        [str(CRYPTO), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={
            **clean,
            "CRYPTO_CONFIG": str(config_path),
            "CRYPTO_DATA_DIR": str(tmp_path / "data"),
            **env,
        },
    )


CASES = {
    "impossible history_start": (
        ["audit"],
        {"config": "history_start: 2024-02-30\n"},
        (
            "crypto audit: error: config key 'history_start': 2024-02-30 is not a date: February 2024 has 29 days"
            " (the nearest valid day is 2024-02-29)"
        ),
    ),
    "a history_start before Binance opened": (
        ["audit"],
        {"config": "history_start: 2007-03-01\n"},
        (
            "crypto audit: error: config key 'history_start': 2007-03-01 is before Binance opened"
            " (2017-07-14, the earliest valid value): those days have no candles"
        ),
    ),
    "unknown config key": (
        ["audit"],
        {"config": "symbol: [BTCUSDT]\n"},
        "crypto audit: error: unknown config key 'symbol' (did you mean 'symbols'?)",
    ),
    "zero concurrency": (
        ["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-02"],
        {"config": "concurrency: 0\n"},
        "crypto backfill: error: config key 'concurrency': 0 must be greater than 0 (the smallest valid value is 1)",
    ),
    "a database URL with a password and the wrong scheme": (
        ["migrate"],
        {"DATABASE_URL": "mysql://crypto:hunter2@db.example:3306/crypto"},
        (
            "crypto migrate: error: environment variable DATABASE_URL: "
            "'mysql://crypto:***@db.example:3306/crypto' has the"
            " scheme mysql://; expected postgresql:// or postgres://"
        ),
    ),
    "a relative DAGSTER_HOME": (
        ["migrate"],
        {"DAGSTER_HOME": "dagster_home"},
        "crypto migrate: error: environment variable DAGSTER_HOME: 'dagster_home' is not an absolute path",
    ),
    "an exchange URL without a scheme": (
        ["backfill", "candles_15m", "--start", "2024-01-01", "--end", "2024-01-02"],
        {"BINANCE_API_URL": "data-api.binance.vision"},
        "crypto backfill: error: environment variable BINANCE_API_URL: 'data-api.binance.vision' is not a URL",
    ),
    "a lower-case symbol flag": (
        [
            "backfill",
            "candles_15m",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "--symbols",
            "btcusdt",
        ],
        {},
        (
            "crypto backfill: error: flag --symbols: 'btcusdt' is not a Binance symbol (upper-case letters and digits,"
            " like BTCUSDT); did you mean BTCUSDT?"
        ),
    ),
    "a datetime for a day flag": (
        ["clear", "--raw", "--before", "2024-03-01 00:00"],
        {},
        (
            "crypto clear: error: flag --before: '2024-03-01 00:00' is a date and time; give the "
            "day alone, like 2024-03-01"
        ),
    ),
    "a port out of range": (
        ["up", "--dashboard-port", "70000"],
        {},
        "crypto up: error: flag --dashboard-port: 70000 is not a port number (1 to 65535)",
    ),
    "a zero weight limit for the simulator": (
        ["simulator", "--weight-limit", "0"],
        {},
        "crypto simulator: error: flag --weight-limit: 0 must be greater than 0",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_no_traceback(tmp_path, case):
    args, settings, says = CASES[case]
    config = settings.pop("config", "symbols: [BTCUSDT]\n")
    result = crypto(args, tmp_path, config, **settings)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(says), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "hunter2" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists()  # refused before anything was started or written


def test_a_port_in_use_is_named_by_its_flag_before_anything_starts(tmp_path):
    with socket.socket() as taken, socket.socket() as a, socket.socket() as b, socket.socket() as c:
        for sock in (taken, a, b, c):
            sock.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        others = [str(sock.getsockname()[1]) for sock in (a, b, c)]
        for sock in (a, b, c):
            sock.close()
        result = crypto(
            [
                "up",
                "--demo",
                "--dagster-port",
                others[0],
                "--dashboard-port",
                others[1],
                "--api-port",
                others[2],
                "--simulator-port",
                str(port),
            ],
            tmp_path,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"crypto up: error: flag --simulator-port: port {port} is in use by another program"
        " (another crypto up?); choose a free one with --simulator-port\n"
    )
    assert not (tmp_path / "data").exists()


def test_a_simulator_port_in_use_is_named_by_its_flag(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = crypto(["simulator", "--port", str(port)], tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        f"crypto simulator: error: flag --port: cannot listen on 127.0.0.1:{port} ("
    )
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
