"""The ``runs`` service of ``crypto up``: one line per run (started, progress, done with rows,
failed with the reason) from a real Dagster instance's records, and nothing of Dagster's
per-event chatter."""

from datetime import UTC, date, datetime

import dagster as dg
import pytest

from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.run_feed import RunFeed
from crypto_assets.settings import Settings

PARTITIONS = day_symbol_partitions(
    Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2024, 1, 1))
)


@dg.asset(partitions_def=PARTITIONS)
def candles(context):
    context.log.info("50% (48/96 candles, 1,000/s)")
    context.log.info("a detail nobody needs on the terminal")
    context.log.warning("Binance GET /api/v3/klines: HTTP 503; attempt 1 failed, retrying in 0.5 s")
    context.log.info("100% (96/96 candles, 1,000/s)")
    return dg.MaterializeResult(metadata={"rows": 96})


@dg.asset(partitions_def=PARTITIONS)
def broken(context):
    raise ValueError("the exchange said no")


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """One instance for the module: each feed starts after the runs of the tests before it."""
    with dg.DagsterInstance.local_temp(str(tmp_path_factory.mktemp("run-feed"))) as instance:
        yield instance


def run(instance, asset, partition_key: str):
    """One run of ``asset``'s partition, selected as ``crypto backfill`` and the sensors select it."""
    job = dg.Definitions(assets=[candles, broken]).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        asset_selection=[asset.key],
        partition_key=partition_key,
        raise_on_error=False,
    )


def text(lines: list[str]) -> list[str]:
    return [line.split(" ", 1)[1] for line in lines]  # without the HH:MM:SS in front


def test_a_finished_run_is_its_progress_its_warnings_and_one_line_with_its_rows(instance):
    feed = RunFeed(instance, since=datetime.now(UTC))
    result = run(instance, candles, "2024-01-02|ETHUSDT")
    short = result.run_id[:8]
    assert text(feed.poll()) == [
        f"run {short}: 50% (48/96 candles, 1,000/s)",
        f"run {short}: Binance GET /api/v3/klines: HTTP 503; attempt 1 failed, retrying in 0.5 s",
        f"run {short}: 100% (96/96 candles, 1,000/s)",
        f"run {short} done in {elapsed(instance, result.run_id)}: candles 2024-01-02|ETHUSDT; rows ETHUSDT 96",
    ]
    assert feed.poll() == []  # said once


def test_a_failed_run_says_why(instance):
    feed = RunFeed(instance, since=datetime.now(UTC))
    result = run(instance, broken, "2024-01-02|BTCUSDT")
    lines = text(feed.poll())
    assert lines == [
        (
            f"run {result.run_id[:8]} FAILED in {elapsed(instance, result.run_id)}: "
            "broken 2024-01-02|BTCUSDT: ValueError: the exchange said no"
        )
    ]


def test_runs_finished_before_the_feed_started_are_not_repeated(instance):
    run(instance, candles, "2024-01-02|BTCUSDT")
    assert RunFeed(instance, since=datetime.now(UTC)).poll() == []


def elapsed(instance, run_id: str) -> str:
    record = instance.get_run_record_by_id(run_id)
    return f"{record.end_time - record.start_time:.1f} s"
