"""The UI's own backfill of candles_15m: launched through the webserver's GraphQL exactly as the
asset page's "Materialize" dialog sends it, executed by the real daemon, checked in the table
and in the partition status the UI shows."""

from __future__ import annotations

import functools
from datetime import date, timedelta

import psycopg2

from crypto_assets_tests.dagster_processes import wait_until

CONFIG = "symbols: [BTCUSDT, ETHUSDT, LTCUSDT]\nhistory_start: 2024-08-20\n"
CANDLES_PER_DAY = 24 * 4

# The mutation as ui-core's LaunchAssetChoosePartitionsDialog sends it (LAUNCH_PARTITION_BACKFILL_MUTATION).
LAUNCH_PARTITION_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message stack }
  }
}"""

BACKFILL = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      error { message }
      runs { runId status tags { key value } }
    }
  }
}"""

PARTITION_STATUSES = """
query ($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetPartitionStatuses {
        ... on MultiPartitionStatuses {
          primaryDimensionName
          ranges {
            primaryDimStartKey
            primaryDimEndKey
            secondaryDim { ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } }
          }
        }
      }
    }
  }
}"""

FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def keys(days: list[str], symbols: list[str]) -> list[str]:
    return [f"{day}|{symbol}" for day in days for symbol in symbols]


def launch_backfill(graphql, asset: str, partition_names: list[str]) -> str:
    """What the dialog sends for an asset of the hidden asset job: assets, partition keys, tags."""
    params = {
        "tags": [],
        "assetSelection": [{"path": [asset]}],
        "partitionNames": partition_names,
        "fromFailure": False,
    }
    result = graphql(LAUNCH_PARTITION_BACKFILL, backfillParams=params)["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def finished_backfill(graphql, backfill_id: str) -> dict | None:
    backfill = graphql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
    return backfill if backfill["status"] in FINISHED else None


def partition_statuses(graphql, asset: str) -> dict[str, set[str]]:
    """'materialized' and 'failed' partition keys, from the 2-D status ranges the UI draws."""
    statuses = graphql(PARTITION_STATUSES, key={"path": [asset]})["assetNodeOrError"][
        "assetPartitionStatuses"
    ]
    assert statuses["primaryDimensionName"] == "day"
    found: dict[str, set[str]] = {"materialized": set(), "failed": set()}
    for span in statuses["ranges"]:
        day, last = (
            date.fromisoformat(span["primaryDimStartKey"]),
            date.fromisoformat(span["primaryDimEndKey"]),
        )
        while day <= last:
            for state in found:
                found[state] |= {
                    f"{day}|{symbol}" for symbol in span["secondaryDim"][f"{state}Partitions"]
                }
            day += timedelta(days=1)
    return found


def candles_per_partition(db_url: str) -> dict[str, int]:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (open_time AT TIME ZONE 'UTC')::date || '|' || symbol, count(*) FROM candles_15m GROUP BY 1"
        )
        counts = dict(cur.fetchall())
    conn.close()
    return counts


def run_shapes(backfill: dict) -> list[str]:
    """Each run's status and partitions (range tags or single key), for failure messages."""
    shapes = []
    for run in backfill["runs"]:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        span = tags.get("dagster/asset_partition_range_start", tags.get("dagster/partition"))
        shapes.append(
            f"{run['status']} {span}..{tags.get('dagster/asset_partition_range_end', span)}"
        )
    return shapes


def test_ui_backfills_of_a_block_and_of_a_scattered_set_write_exactly_their_partitions(
    dagster_platform, db_url
):
    platform = dagster_platform(CONFIG)
    graphql = platform.start_webserver()
    platform.keep_only_sensors()  # only the backfills write candles_15m

    block = keys(["2024-08-21", "2024-08-22", "2024-08-23"], ["BTCUSDT", "ETHUSDT"])
    scattered = [
        "2024-08-25|BTCUSDT",
        "2024-08-27|LTCUSDT",
    ]  # symbols 1 and 3 of 3, days apart: not a key range
    launched = {
        name: launch_backfill(graphql, "candles_15m", partitions)
        for name, partitions in (("block", block), ("scattered", scattered))
    }
    platform.start_daemon()  # its first iteration takes up both backfills (launching first saves one 30 s wait)

    finished = {
        name: wait_until(
            functools.partial(finished_backfill, graphql, backfill_id),
            120,
            f"backfill {name} finishing",
            platform.processes,
        )
        for name, backfill_id in launched.items()
    }
    shapes = {name: run_shapes(backfill) for name, backfill in finished.items()}
    assert {name: b["status"] for name, b in finished.items()} == {
        "block": "COMPLETED_SUCCESS",
        "scattered": "COMPLETED_SUCCESS",
    }, (shapes, platform.diagnostics())

    wanted = set(block) | set(scattered)
    assert candles_per_partition(db_url) == dict.fromkeys(wanted, CANDLES_PER_DAY), shapes
    assert partition_statuses(graphql, "candles_15m") == {
        "materialized": wanted,
        "failed": set(),
    }, shapes
