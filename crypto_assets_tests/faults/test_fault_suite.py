"""Every fault of the suite (``fault_suite.py``) leaves nothing behind: no row lost, no row twice,
no hole after the automation has run its course, no run left STARTED, no ban drawn.

One lab for the module (its own PostgreSQL, a daemon doing run monitoring, the simulators);
each scenario is its own test, with its own symbols and a deadline. The last test switches a
scenario's protections off and gets the counts they guard against: the suite can fail.
"""

import shutil

import pytest

from crypto_assets.warehouse.server import LocalPostgres
from crypto_assets_tests.dagster_processes import free_port
from crypto_assets_tests.faults.fault_suite import DAYS, SCENARIOS, Counts, FaultLab
from crypto_assets_tests.plugins.postgres import scratch_dir, timescaledb_mode

SCENARIO_DEADLINE_S = 150
NOTHING = Counts(rows_lost=0, duplicate_rows=0, holes=0, runs_started=0, bans=0)
CANDLES_A_DAY = 24 * 4  # 15-minute candles


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = scratch_dir("crypto-faults-pg-")
    pg = LocalPostgres(
        root / "data", port=free_port(), timescaledb=timescaledb_mode(), durable=False
    )
    pg.start()
    try:
        with FaultLab(tmp_path_factory.mktemp("faults"), pg) as lab:
            yield lab
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.timeout(SCENARIO_DEADLINE_S)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_fault_leaves_nothing_behind(lab, scenario):
    outcome = lab.run(scenario)
    assert outcome.counts == NOTHING, f"{scenario} ({outcome.fault}): {outcome.counts}"


@pytest.mark.timeout(SCENARIO_DEADLINE_S)
def test_without_retries_or_automation_a_5xx_burst_loses_the_run(lab):
    outcome = lab.run("5xx burst", protected=False)
    assert outcome.counts == Counts(
        rows_lost=DAYS * CANDLES_A_DAY, duplicate_rows=0, holes=DAYS, runs_started=0, bans=0
    ), outcome.fault
