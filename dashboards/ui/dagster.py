"""Latest materializations and asset-check results, read from the Dagster webserver's GraphQL API.

Why GraphQL and not Dagster's storage: the webserver knows every asset and check that is
defined (including those never run), the dashboard needs no credentials for Dagster's
database, and a Dagster that is down only hides this part of the Data health page.
``DAGSTER_UI_URL`` (default http://localhost:3000) is where the visitor's browser finds the UI,
for links; ``DAGSTER_GRAPHQL_URL`` (default ``$DAGSTER_UI_URL/graphql``) is where the
dashboard's server reaches it (they differ inside docker-compose).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

DEFAULT_UI_URL = "http://localhost:3000"
TIMEOUT_S = 3.0

QUERY = """
query DashboardAssetHealth {
  assetNodes {
    assetKey { path }
    groupName
    isPartitioned
    partitionStats { numMaterialized numPartitions numFailed numMaterializing }
    assetMaterializations(limit: 1) { timestamp runId partition }
    assetChecksOrError {
      ... on AssetChecks {
        checks {
          name
          description
          executionForLatestMaterialization {
            status runId timestamp partition
            evaluation { severity description }
          }
        }
      }
    }
  }
}
"""


class DagsterUnavailable(RuntimeError):
    """The Dagster webserver could not be asked; the message says where and why."""


@dataclass(frozen=True)
class CheckStatus:
    asset: str
    name: str
    status: str  # SUCCEEDED, FAILED, EXECUTION_FAILED, IN_PROGRESS, SKIPPED or NOT_RUN
    severity: str | None
    at: datetime | None
    run_id: str | None
    description: str | None


@dataclass(frozen=True)
class AssetStatus:
    asset: str
    group: str | None
    partitions: tuple[int, int, int] | None  # materialized, total, failed
    materialized_at: datetime | None
    partition: str | None
    run_id: str | None
    checks: tuple[CheckStatus, ...]


def ui_url() -> str:
    return os.environ.get("DAGSTER_UI_URL", "").strip().rstrip("/") or DEFAULT_UI_URL


def graphql_url() -> str:
    return os.environ.get("DAGSTER_GRAPHQL_URL", "").strip() or f"{ui_url()}/graphql"


def asset_link(asset: str) -> str:
    return f"{ui_url()}/assets/{quote(asset)}"


def checks_link(asset: str) -> str:
    return f"{asset_link(asset)}?view=checks"


def run_link(run_id: str) -> str:
    return f"{ui_url()}/runs/{run_id}"


def _when(timestamp) -> datetime | None:
    """Dagster's timestamps: seconds (checks) or milliseconds as a string (materializations)."""
    if timestamp in (None, ""):
        return None
    value = float(timestamp)
    return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)


def _check(asset: str, raw: dict) -> CheckStatus:
    run = raw.get("executionForLatestMaterialization")
    evaluation = (run or {}).get("evaluation") or {}
    return CheckStatus(
        asset=asset,
        name=raw["name"],
        status=run["status"] if run else "NOT_RUN",
        severity=evaluation.get("severity"),
        at=_when(run["timestamp"]) if run else None,
        run_id=run["runId"] if run else None,
        description=evaluation.get("description") or raw.get("description"),
    )


def _asset(raw: dict) -> AssetStatus:
    asset = "/".join(raw["assetKey"]["path"])
    stats = raw.get("partitionStats")
    latest = (raw.get("assetMaterializations") or [None])[0]
    checks = (raw.get("assetChecksOrError") or {}).get("checks") or []
    return AssetStatus(
        asset=asset,
        group=raw.get("groupName"),
        partitions=(stats["numMaterialized"], stats["numPartitions"], stats["numFailed"])
        if stats
        else None,
        materialized_at=_when(latest["timestamp"]) if latest else None,
        partition=latest.get("partition") if latest else None,
        run_id=latest.get("runId") if latest else None,
        checks=tuple(_check(asset, c) for c in checks),
    )


def fetch_status(url: str | None = None) -> list[AssetStatus]:
    """Every asset the Dagster webserver defines, with its latest materialization and checks."""
    url = url or graphql_url()
    try:
        response = httpx.post(url, json={"query": QUERY}, timeout=TIMEOUT_S)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as err:
        raise DagsterUnavailable(
            f"the Dagster webserver at {url} did not answer ({type(err).__name__}: {err})"
        ) from None
    if body.get("errors"):
        raise DagsterUnavailable(
            f"the Dagster webserver at {url} refused the query: {body['errors'][0].get('message')}"
        )
    return sorted((_asset(a) for a in body["data"]["assetNodes"]), key=lambda a: a.asset)
