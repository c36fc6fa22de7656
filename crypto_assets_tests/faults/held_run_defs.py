"""A code location for the dead-run tests: a sensor that launches one run, whose first attempt
holds its process open until the test kills it; a retry of it finishes at once."""

import threading

import dagster as dg


@dg.asset
def held(context: dg.AssetExecutionContext) -> None:
    if context.run.parent_run_id is None:  # the first attempt: stay in flight until killed
        threading.Event().wait()


@dg.sensor(target=[held], minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def launch_held_once(context: dg.SensorEvaluationContext):
    yield dg.RunRequest(run_key="once")


# In-process: the run worker is the process that runs the asset (no step subprocess to orphan).
defs = dg.Definitions(assets=[held], sensors=[launch_held_once], executor=dg.in_process_executor)
