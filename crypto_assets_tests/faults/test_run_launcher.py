"""The run launcher's health check on a real instance, without a daemon (the daemon's side is in
test_dead_runs.py): a run of this host whose process lives is RUNNING; one of another host, or
one that never said which, is not judged."""

import os

import dagster as dg
import pytest

from crypto_assets.run_launcher import (
    HOST_TAG,
    LocalRunLauncher,
    health_result,
    host_tags,
    worker_state,
)


@dg.asset
def quick() -> None:
    return None


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    with dg.DagsterInstance.local_temp(str(tmp_path_factory.mktemp("launcher"))) as instance:
        yield instance


def finished_run(instance, tags):
    job = dg.Definitions(assets=[quick]).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, tags=tags).dagster_run


def test_a_run_of_this_host_in_a_live_process_is_running(instance):
    run = finished_run(instance, host_tags())
    assert worker_state(run, instance) == (True, f"process {os.getpid()} is running")


def test_runs_of_another_host_or_untagged_are_not_judged(instance):
    elsewhere = finished_run(instance, {HOST_TAG: "another-machine"})
    assert worker_state(elsewhere, instance)[0] is None
    assert worker_state(finished_run(instance, {}), instance)[0] is None


def test_dagster_still_takes_this_health_answer():
    """``health_result`` imports Dagster's private CheckRunHealthResult/WorkerStatus: this fails the
    day they move or change."""
    assert str(health_result(False, "its process 1 is gone")) == "FAILED: 'its process 1 is gone'"
    assert health_result(True, "ok").status.value == "RUNNING"
    assert (
        health_result(None, "cannot tell").status.value == "RUNNING"
    )  # never fail what cannot be checked
    assert LocalRunLauncher().supports_check_run_worker_health
