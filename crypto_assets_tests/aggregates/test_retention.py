"""Storage care on the test server: the server kind is detected and old price samples go."""

from dataclasses import replace

import psycopg2

from crypto_assets.automation.retention import (
    APACHE,
    COMMUNITY,
    PLAIN,
    care_for_storage,
    server_kind,
)
from crypto_assets_tests.aggregates.loading import SETTINGS, fetch


def test_old_price_samples_are_dropped_and_recent_ones_kept(db_url):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO price_samples SELECT 'BTCUSDT', now() - d * interval '1 day' + interval '1 hour', 100 + d"
            " FROM generate_series(1, 60) AS d"
        )
    with psycopg2.connect(db_url) as conn:
        kind = server_kind(conn)
        done = care_for_storage(conn, replace(SETTINGS, price_samples_retention_days=30))
    assert done.server == kind
    if kind == COMMUNITY:  # a background job of TimescaleDB drops the chunks later
        assert any("retention policy on price_samples" in a for a in done.actions)
        return
    remaining = fetch(db_url, "SELECT min(price), max(price) FROM price_samples")[0]
    if kind == APACHE:  # whole chunks (1 day each) older than 30 days are dropped
        assert done.chunks_dropped >= 29 and "compression skipped" in done.actions[1]
    else:
        assert kind == PLAIN and done.rows_deleted == 30 and remaining[1] == 130  # 31..60 days old
    assert remaining[0] == 101 and remaining[1] <= 131


def test_the_job_runs_through_dagster(db_url):
    from crypto_assets.definitions import build_definitions
    from crypto_assets.resources import WarehouseResource

    job = build_definitions(SETTINGS).resolve_job_def("storage_care")
    result = job.execute_in_process(resources={"warehouse": WarehouseResource(database_url=db_url)})
    assert result.success
    assert result.output_for_node("care_for_storage")  # the actions it took
