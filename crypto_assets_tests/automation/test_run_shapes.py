"""Runs cover exactly the requested partitions: checked against Dagster's own range expansion."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from crypto_assets.assets.partitions import day_symbol_partitions, split_key
from crypto_assets.automation.run_shapes import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    exact_runs,
    range_tags,
)
from crypto_assets.settings import Settings

SYMBOLS = ("BTCUSDT", "ETHUSDT", "LTCUSDT", "SOLUSDT")
PARTITIONS = day_symbol_partitions(Settings(symbols=SYMBOLS, history_start=date(2024, 1, 1)))


def covered_by_dagster(runs) -> list[tuple[date, str]]:
    """The partitions Dagster itself runs for each run's range tags (duplicates kept)."""
    covered = []
    for run in runs:
        tags = range_tags(run)
        keys = PARTITIONS.get_partition_keys_in_range(
            dg.PartitionKeyRange(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        )
        covered += [split_key(key) for key in keys]
    return covered


def days(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


CASES = {
    "reverse order, not adjacent": [
        (d, s) for d in days("2024-08-22", "2024-08-23") for s in ("LTCUSDT", "BTCUSDT")
    ],
    "one symbol from the middle": [(d, "ETHUSDT") for d in days("2024-03-01", "2024-03-05")],
    "a day range crossing a month": [
        (d, s) for d in days("2024-01-30", "2024-02-02") for s in ("SOLUSDT", "LTCUSDT")
    ],
    "non-contiguous days and symbols": [
        *[(d, "BTCUSDT") for d in days("2024-05-01", "2024-05-03")],
        *[(d, "BTCUSDT") for d in days("2024-05-07", "2024-05-08")],
        *[(d, "SOLUSDT") for d in days("2024-05-02", "2024-05-07")],
        (date(2024, 5, 5), "ETHUSDT"),
    ],
}


@pytest.mark.parametrize("wanted", CASES.values(), ids=CASES.keys())
def test_runs_cover_exactly_the_requested_partitions_once(wanted):
    runs = exact_runs(wanted, SYMBOLS, max_partitions=400)
    covered = covered_by_dagster(runs)
    assert sorted(covered) == sorted(set(wanted))  # no superset, no subset, no partition twice


def test_symbols_adjacent_in_config_order_share_one_run_whatever_order_they_were_typed():
    wanted = [
        (d, s) for d in days("2024-08-22", "2024-08-23") for s in ("LTCUSDT", "ETHUSDT", "BTCUSDT")
    ]
    (run,) = exact_runs(wanted, SYMBOLS, max_partitions=400)
    assert run.symbols == ("BTCUSDT", "ETHUSDT", "LTCUSDT") and run.partitions == 6


def test_reverse_order_non_adjacent_symbols_take_the_fewest_runs():
    runs = exact_runs(CASES["reverse order, not adjacent"], SYMBOLS, max_partitions=400)
    assert [(r.symbols, r.first_day, r.last_day) for r in runs] == [
        (("BTCUSDT",), date(2024, 8, 22), date(2024, 8, 23)),
        (("LTCUSDT",), date(2024, 8, 22), date(2024, 8, 23)),
    ]


def test_runs_respect_the_partitions_per_run_limit():
    wanted = [(d, s) for d in days("2024-01-01", "2024-03-31") for s in SYMBOLS]
    runs = exact_runs(wanted, SYMBOLS, max_partitions=50)
    assert all(r.partitions <= 50 for r in runs)
    assert sorted(covered_by_dagster(runs)) == sorted(wanted)
    wide = exact_runs([(date(2024, 1, 1), s) for s in SYMBOLS], SYMBOLS, max_partitions=3)
    assert [r.symbols for r in wide] == [("BTCUSDT", "ETHUSDT", "LTCUSDT"), ("SOLUSDT",)]


def test_a_symbol_outside_the_partitions_is_refused_by_name():
    with pytest.raises(ValueError, match="'DOGEUSDT' is not one of the partitions' symbols"):
        exact_runs([(date(2024, 1, 1), "DOGEUSDT")], SYMBOLS, 400)


def test_range_tags_are_dagsters():
    """The tag names are Dagster's (private module): this fails the day Dagster renames them."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    assert (RANGE_START_TAG, RANGE_END_TAG) == (
        ASSET_PARTITION_RANGE_START_TAG,
        ASSET_PARTITION_RANGE_END_TAG,
    )


def test_partition_keys_name_partitions_exactly_as_dagster_does():
    from crypto_assets.assets.partitions import partition_keys, split_key

    settings = Settings(symbols=("ETHUSDT", "BTCUSDT"), history_start=date(2024, 2, 27))
    today = date(2024, 3, 2)
    ours = partition_keys(dict.fromkeys(settings.symbols, settings.history_start), today)
    theirs = day_symbol_partitions(settings).get_partition_keys(
        current_time=datetime(2024, 3, 2, 12, tzinfo=UTC)
    )
    assert sorted(ours) == sorted(theirs) and len(ours) == 5 * 2
    assert all(split_key(key) == split_key(key[:]) for key in theirs)  # key object, plain str
    later = partition_keys({"ETHUSDT": date(2024, 3, 1), "BTCUSDT": date(2024, 2, 28)}, today)
    assert sorted(later) == sorted(
        ["2024-03-01|ETHUSDT", "2024-03-02|ETHUSDT"]
        + [f"2024-0{d}|BTCUSDT" for d in ("2-28", "2-29", "3-01", "3-02")]
    )
