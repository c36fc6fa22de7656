"""Runs whose process dies are marked FAILURE by the daemon (run monitoring through the project's
run launcher), and a run the daemon launched is then retried (run retries), on a real daemon
over a throwaway instance configured by the project's dagster.yaml.

Each test kills a run's process for real (SIGKILL): the process cannot say that its run ended.
A run the daemon launched is watched by its code server too; a ``crypto backfill`` run (in
that command's process) only by run monitoring, through ``crypto_assets.run_launcher``.
"""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from crypto_assets_tests.faults.daemon_process import DaemonInstance, wait_until

DAEMONS = ("MONITORING", "EVENT_LOG_CONSUMER", "SENSOR", "QUEUED_RUN_COORDINATOR")


@pytest.fixture(scope="module")
def daemon(pg_server, tmp_path_factory):
    platform = DaemonInstance(
        tmp_path_factory.mktemp("dead-runs"), pg_server, "crypto_assets_tests.faults.held_run_defs"
    )
    platform.start(DAEMONS)
    yield platform
    platform.stop()


def run_process(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid the run recorded with its RUN_START event, once it has started."""
    starts = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
    ).records
    event = starts[0].event_log_entry.dagster_event if starts else None
    return event.pid if event is not None else None


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    failures = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    event = failures[0].event_log_entry.dagster_event if failures else None
    return (event.message or "") if event is not None else ""


def test_a_launched_run_whose_process_is_killed_is_failed_then_retried(daemon):
    instance = daemon.instance
    first = wait_until(
        lambda: next(
            iter(
                instance.get_runs(dg.RunsFilter(tags={"dagster/sensor_name": "launch_held_once"}))
            ),
            None,
        ),
        60,
        "the sensor's run",
        daemon.log,
    )
    worker = wait_until(
        lambda: run_process(instance, first.run_id), 60, "the run's start", daemon.log
    )
    assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.STARTED
    assert (
        instance.get_run_by_id(first.run_id).tags["crypto/host"] == os.uname().nodename
    )  # by the project's launcher
    os.kill(worker, signal.SIGKILL)

    assert wait_until(
        lambda: instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.FAILURE,
        60,
        "the dead run marked failed",
        daemon.log,
    )
    retry = wait_until(
        lambda: next(
            iter(instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": first.run_id}))),
            None,
        ),
        60,
        "the run retry",
        daemon.log,
    )
    assert wait_until(
        lambda: instance.get_run_by_id(retry.run_id).is_finished,
        90,
        "the retried run finishing",
        daemon.log,
    )
    assert instance.get_run_by_id(retry.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert retry.tags["dagster/retry_number"] == "1"


def test_a_killed_crypto_backfill_leaves_no_run_started(daemon, simulator, db_url, tmp_path):
    """The issue's case: ``crypto backfill`` SIGKILLed mid-run used to leave its run STARTED for good."""
    instance = daemon.instance
    config = tmp_path / "crypto.yaml"
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    config.write_text(f"symbols: [BTCUSDT]\nhistory_start: {yesterday - timedelta(days=3)}\n")
    simulator.faults.update(latency_ms=1500)  # slow enough to be killed in flight
    backfill = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crypto_assets.cli",
            "backfill",
            "candles_15m",
            "--start",
            str(yesterday - timedelta(days=3)),
            "--end",
            str(yesterday),
        ],
        env={
            **daemon.env,
            "DATABASE_URL": db_url,
            "BINANCE_API_URL": simulator.url,
            "CRYPTO_CONFIG": str(config),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        run = wait_until(
            lambda: next(
                iter(
                    instance.get_runs(
                        dg.RunsFilter(
                            tags={"crypto/host": os.uname().nodename},
                            statuses=[dg.DagsterRunStatus.STARTED],
                        )
                    )
                ),
                None,
            ),
            60,
            "the backfill's run starting",
        )
        assert run_process(instance, run.run_id) == backfill.pid
    finally:
        backfill.kill()
        backfill.wait()
    assert wait_until(
        lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE,
        60,
        "the daemon failing the killed backfill's run",
        daemon.log,
    )
    assert f"its process {backfill.pid} is gone" in failure_message(instance, run.run_id)
