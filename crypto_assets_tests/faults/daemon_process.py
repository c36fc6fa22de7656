"""A Dagster daemon as a real process on a throwaway instance, for the dead-run tests.

Minimal on purpose (the lead unifies it with the webserver+daemon harness of another branch):
a ``DAGSTER_HOME`` holding the project's own ``dagster.yaml`` (its run launcher, run monitoring
and run retries), with its storage pointed at a fresh database on the test PostgreSQL and the
run monitoring poll made short, and ``dagster-daemon run`` over a code location module of the
test's choosing. ``start()`` returns once the daemons the test needs heartbeat; ``stop()``
ends the daemon's whole process group (its code servers and the runs they launched).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from crypto_assets.environment import dagster_storage_url
from crypto_assets.warehouse.server import LocalPostgres
from crypto_assets_tests.stream.helpers import wait_until as poll

ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_S = 20


def wait_until(condition: Callable[[], Any], timeout: float, what: str, log: Path | None = None):
    """Poll ``condition`` until it returns something truthy (returned); at the deadline an
    AssertionError with the tail of ``log``."""
    try:
        return poll(condition, what, timeout_s=timeout, every_s=0.25)
    except AssertionError as err:
        tail = (
            "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            if log and log.exists()
            else ""
        )
        raise AssertionError(f"{err}\n{tail}") from None


class DaemonInstance:
    """The project's Dagster instance config, a throwaway storage, and a daemon over ``module``."""

    def __init__(
        self, root: Path, pg_server: LocalPostgres, module: str, *, monitoring_poll_s: int = 1
    ):
        self.root = root
        self.home = root / "dagster_home"
        self.home.mkdir(parents=True)
        self._pg_server = pg_server
        self._storage = f"dagster_faults_{uuid.uuid4().hex[:8]}"
        config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
        url = dagster_storage_url(pg_server.create_database(self._storage))
        for storage in ("run_storage", "event_log_storage", "schedule_storage"):
            config[storage]["config"]["postgres_url"] = url
        config["run_monitoring"]["poll_interval_seconds"] = monitoring_poll_s
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(config))
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.module = module
        self.log = root / "dagster-daemon.log"
        self.process: subprocess.Popen | None = None
        self.instance: dg.DagsterInstance | None = None

    def start(
        self,
        daemons: tuple[str, ...] = ("MONITORING", "EVENT_LOG_CONSUMER", "SENSOR"),
        timeout: float = 90,
    ) -> dg.DagsterInstance:
        self.instance = dg.DagsterInstance.from_config(str(self.home))
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", self.module],
                env=self.env,
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(
            lambda: self._heartbeating(daemons),
            timeout,
            f"the daemon's {', '.join(daemons)} heartbeats",
            self.log,
        )
        return self.instance

    def _heartbeating(self, daemons: tuple[str, ...]) -> bool:
        assert self.process is not None and self.instance is not None, "start() first"
        if self.process.poll() is not None:
            raise AssertionError(
                f"dagster-daemon exited {self.process.returncode}:\n{self.log.read_text(errors='replace')[-4000:]}"
            )
        return set(daemons) <= set(self.instance.get_daemon_heartbeats())

    def stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
            # What is left of the group: code servers, run workers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self.instance is not None:
            self.instance.dispose()
        self._pg_server.drop_database(self._storage)
