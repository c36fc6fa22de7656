"""Dagster's local run launcher, plus the worker health check that run monitoring needs.

``dg.DefaultRunLauncher`` starts each run as a process of a code server, but cannot tell the
run monitoring daemon whether a run's process is still alive (only Dagster's Docker, ECS and
Kubernetes launchers can). So a run whose process died without a word (SIGKILL, out of
memory, its code server or ``crypto backfill`` killed) stays STARTED for good and its
partitions show "in progress". ``LocalRunLauncher`` answers the daemon from the run's own
record: the process id of the process that wrote its RUN_START event (every Dagster event
records its writer's pid) and the host it ran on (the ``crypto/host`` tag, set here for the
runs it launches and by ``crypto backfill`` for its in-process runs). A process that is gone,
or a pid since taken by a younger process, is a dead worker: the daemon marks the run FAILURE
and run retries (``dagster.yaml``) launch it again. Runs of another host, or without the tag,
are never judged.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from crypto_assets.warehouse.server import pid_alive

if TYPE_CHECKING:  # annotations only; the runtime import stays in health_result
    from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext

HOST_TAG = "crypto/host"


def host_tags() -> dict[str, str]:
    """The tag that says which machine a run's process runs on."""
    return {HOST_TAG: socket.gethostname()}


def worker_state(run: dg.DagsterRun, instance: dg.DagsterInstance) -> tuple[bool | None, str]:
    """(alive?, why): True/False for a run of this host, None when it cannot be told."""
    if run.tags.get(HOST_TAG) != socket.gethostname():
        return (
            None,
            f"run process on host {run.tags.get(HOST_TAG, 'unknown')!r}, not checked from {socket.gethostname()!r}",
        )
    starts = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
    ).records
    if not starts:
        return None, "the run has not recorded its start yet"
    event = starts[0].event_log_entry
    pid = event.dagster_event.pid if event.dagster_event is not None else None
    if pid is None:
        return None, "the run's start recorded no process id"
    started = _process_start(pid)
    if started is False:
        return False, f"its process {pid} is gone"
    if started is not None and started > event.timestamp + 1:
        return (
            False,
            f"its process {pid} is gone (that pid now belongs to a process started after the run)",
        )
    return True, f"process {pid} is running"


def _process_start(pid: int) -> float | bool | None:
    """False when ``pid`` is not running; else its start time (epoch seconds), or None where /proc
    cannot tell."""
    if not pid_alive(pid):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return False  # exited, not yet reaped by its parent
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def health_result(alive: bool | None, why: str) -> CheckRunHealthResult:
    """Dagster's health-check answer; the one place that imports it from ``dagster._core`` (the
    launcher API has no public export of ``CheckRunHealthResult``/``WorkerStatus``)."""
    from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

    status = WorkerStatus.FAILED if alive is False else WorkerStatus.RUNNING
    return CheckRunHealthResult(status, why)


class LocalRunLauncher(dg.DefaultRunLauncher):
    """``dg.DefaultRunLauncher`` that tags its runs with the host and answers worker health checks."""

    def launch_run(self, context: LaunchRunContext) -> None:
        self._instance.add_run_tags(context.dagster_run.run_id, host_tags())
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return health_result(*worker_state(run, self._instance))
