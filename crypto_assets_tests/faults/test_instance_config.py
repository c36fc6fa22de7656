"""The one dagster.yaml that make up, make demo and compose all use turns on run monitoring (with
the project's run launcher, which can answer it) and run retries, as Dagster itself reads it."""

import re
from pathlib import Path

import dagster as dg
import yaml

from crypto_assets.environment import DAGSTER_YAML
from crypto_assets.run_launcher import LocalRunLauncher

ROOT = Path(__file__).resolve().parents[2]


def test_dagster_reads_run_monitoring_retries_and_the_launcher(tmp_path):
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    for storage in (
        "run_storage",
        "event_log_storage",
        "schedule_storage",
    ):  # only the storage differs
        del config[storage]
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert (
            instance.run_monitoring_max_resume_run_attempts == 0
        )  # a local worker cannot be resumed
        assert isinstance(instance.run_launcher, LocalRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure


def test_compose_runs_the_daemon_on_the_same_instance_config():
    dockerfile = (ROOT / "Dockerfile").read_text()
    declared = re.search(r"DAGSTER_HOME=(\S+)", dockerfile)
    assert declared is not None, "the Dockerfile sets no DAGSTER_HOME"
    home = declared.group(1)
    assert re.search(r"^COPY dagster\.yaml \$DAGSTER_HOME/dagster\.yaml$", dockerfile, re.M)
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["dagster-daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert services["dagster-daemon"]["environment"]["DAGSTER_HOME"] == home
