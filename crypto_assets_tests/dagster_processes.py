"""Dagster's webserver and daemon as real processes on a throwaway instance, for end-to-end tests.

A :class:`DagsterPlatform` is the platform as ``make up`` and docker-compose run it: a
``DAGSTER_HOME`` holding the project's own ``dagster.yaml`` (run, event and schedule storage in a
fresh database on the test PostgreSQL, the queued run coordinator, runs as subprocesses),
``dagster-webserver`` and ``dagster-daemon run`` on the project's ``workspace.yaml``, the
warehouse at ``DATABASE_URL``, a test config file and the simulator as Binance.

- ``start_webserver()`` waits until the code location is loaded; ``keep_only_sensors()`` switches
  the other sensors off through GraphQL, as a user does in the UI (before the daemon starts, they
  never tick); ``start_daemon()`` waits until every required daemon reports a healthy heartbeat.
- ``graphql`` is the webserver's API, queried the way the UI queries it.
- ``crypto(*argv)`` runs the ``crypto`` command against the same instance and warehouse.
- ``stop()`` ends the processes (SIGTERM to each process group, SIGKILL after a grace period:
  the daemon's group holds its code server and the runs it launched) and drops the storage.

``wait_until`` polls a condition against a deadline, failing with the processes' log tails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from crypto_assets.environment import dagster_storage_url
from crypto_assets.warehouse.server import LocalPostgres

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION = "crypto_assets"  # workspace.yaml's location name
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a module-level Definitions
STOP_GRACE_S = 20


class Process:
    """A started process in its own session, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.name, self.log = name, log
        with log.open("w") as out:
            self.popen = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return (
            f"--- {self.name} (pid {self.popen.pid}, "
            f"{'running' if self.running else f'exited {self.popen.returncode}'}):\n"
            + "\n".join(text)
        )

    def stop(self) -> None:
        if self.running:
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        else:  # the group leader is gone; its children (code server, runs) go too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    processes: Iterable[Process] = (),
    interval: float = 0.5,
):
    """Poll ``condition`` until it returns something truthy (returned); AssertionError at the
    deadline, or at once when one of ``processes`` has exited, with their log tails."""
    deadline = time.monotonic() + timeout
    processes = list(processes)
    while True:
        value = condition()
        if value:
            return value
        dead = [p for p in processes if not p.running]
        if dead or time.monotonic() > deadline:
            reason = (
                f"{', '.join(p.name for p in dead)} exited"
                if dead
                else f"not within {timeout:.0f} s"
            )
            raise AssertionError(f"{what}: {reason}\n" + "\n".join(p.tail() for p in processes))
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GraphQLError(AssertionError):
    """The webserver answered a GraphQL request with errors."""


class GraphQL:
    """POST queries to a Dagster webserver's ``/graphql``; returns ``data`` or raises GraphQLError."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._client = httpx.Client(base_url=base_url, timeout=30)

    def __call__(self, query: str, **variables) -> dict:
        response = self._client.post("/graphql", json={"query": query, "variables": variables})
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def close(self) -> None:
        self._client.close()


def sensor_selector(name: str) -> dict:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}


_LOCATIONS = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

_SENSORS = """query ($selector: RepositorySelector!) { repositoryOrError(repositorySelector: $selector) {
  __typename ... on Repository { sensors { id name } } ... on PythonError { message } } }"""

_STOP_SENSOR = """mutation ($id: String!) { stopSensor(id: $id) {
  __typename ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }"""

_DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"


class DagsterPlatform:
    """The webserver, the daemon and the ``crypto`` command on one throwaway instance (module docstring)."""

    def __init__(
        self, root: Path, pg_server: LocalPostgres, database_url: str, binance_url: str, config: str
    ):
        self.root = root
        self.home = root / "dagster_home"
        self.home.mkdir(parents=True)
        shutil.copyfile(ROOT / "dagster.yaml", self.home / "dagster.yaml")
        (root / "crypto.yaml").write_text(config)
        self._pg_server = pg_server
        self._storage = f"dagster_e2e_{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_POSTGRES_URL": dagster_storage_url(pg_server.create_database(self._storage)),
            "DATABASE_URL": database_url,
            "CRYPTO_CONFIG": str(root / "crypto.yaml"),
            "BINANCE_API_URL": binance_url,
        }
        self.processes: list[Process] = []
        self._graphql: GraphQL | None = None

    def _start(self, name: str, argv: list[str]) -> Process:
        process = Process(name, argv, self.env, self.home, self.root / f"{name}.log")
        self.processes.append(process)
        return process

    def start_webserver(self, timeout: float = 60) -> GraphQL:
        port = free_port()
        argv = [
            str(BIN / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(ROOT / "workspace.yaml"),
        ]
        self._start("dagster-webserver", argv)
        self._graphql = GraphQL(f"http://127.0.0.1:{port}")
        wait_until(
            self._location_loaded,
            timeout,
            "the webserver loading the code location",
            self.processes,
        )
        return self._graphql

    @property
    def graphql(self) -> GraphQL:
        """The webserver's API (after ``start_webserver``)."""
        if self._graphql is None:
            raise AssertionError("start_webserver() first: no webserver to query")
        return self._graphql

    def _location_loaded(self) -> bool:
        try:
            data = self.graphql(_LOCATIONS)
        except httpx.TransportError:
            return False  # not listening yet
        [entry] = data["workspaceOrError"]["locationEntries"]
        loaded = entry["locationOrLoadError"]
        if loaded and loaded["__typename"] == "PythonError":
            raise AssertionError(
                f"code location {entry['name']} failed to load: {loaded['message']}"
            )
        return entry["loadStatus"] == "LOADED" and loaded is not None

    def keep_only_sensors(self, *names: str) -> None:
        """Switch off every sensor but ``names`` (each must exist), as a user would in the UI."""
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        repository = self.graphql(_SENSORS, selector=selector)["repositoryOrError"]
        assert repository["__typename"] == "Repository", repository
        sensors = {sensor["name"]: sensor["id"] for sensor in repository["sensors"]}
        assert set(names) <= set(sensors), (
            f"no sensor {sorted(set(names) - set(sensors))} in {sorted(sensors)}"
        )
        for name, sensor_id in sensors.items():
            if name not in names:
                result = self.graphql(_STOP_SENSOR, id=sensor_id)["stopSensor"]
                assert result["__typename"] == "StopSensorMutationResult", (
                    f"stopping sensor {name}: {result}"
                )

    def start_daemon(self, timeout: float = 60) -> None:
        self._start(
            "dagster-daemon",
            [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
        )
        wait_until(
            self._daemons_healthy, timeout, "every required daemon heartbeating", self.processes
        )

    def _daemons_healthy(self) -> bool:
        statuses = self.graphql(_DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
        return all(s["healthy"] for s in statuses if s["required"])

    def crypto(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the ``crypto`` command on this platform's instance and warehouse; its output is captured."""
        return subprocess.run(
            [sys.executable, "-m", "crypto_assets.cli", *argv],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def diagnostics(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self.graphql is not None:
            self.graphql.close()
        self._pg_server.drop_database(self._storage)
