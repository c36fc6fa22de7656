"""A database connection lost mid-run (the server restarted or ended the session) is retried,
and a run that keeps losing it fails naming the error that lost it, on a real PostgreSQL."""

import dagster as dg
import psycopg2

from crypto_assets.resources import WarehouseResource
from crypto_assets.run_report import failure_reason

LOST = "server closed the connection unexpectedly"


def losing_asset(lose_on_attempts: set[int]):
    """An asset that writes a row, then (on the given attempts) has the server end its session."""

    @dg.asset
    def probe(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
        with warehouse.transaction() as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS lost_probe (attempt int)")
            cur.execute("INSERT INTO lost_probe VALUES (%s)", (context.retry_number,))
            if context.retry_number in lose_on_attempts:
                cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    return probe


def materialize(asset, db_url):
    warehouse = WarehouseResource(
        database_url=db_url, lost_connection_retries=2, lost_connection_wait_s=0
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [asset], resources={"warehouse": warehouse}, instance=instance, raise_on_error=False
        )
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return result, logs


def attempts_stored(db_url) -> list[int]:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT attempt FROM lost_probe ORDER BY attempt")
        rows = [r[0] for r in cur.fetchall()]
        cur.execute("DROP TABLE lost_probe")
    return rows


def test_a_lost_connection_is_retried_and_the_retry_writes_the_rows(db_url):
    result, logs = materialize(losing_asset({0}), db_url)
    assert result.success
    assert [e.event_type_value for e in result.all_events].count("STEP_UP_FOR_RETRY") == 1
    assert any(
        f"lost the database connection (OperationalError: {LOST}); retrying the step in 0 s" in m
        for m in logs
    )
    assert attempts_stored(db_url) == [
        1
    ]  # the lost transaction left nothing; the retry's row is there


def test_a_connection_lost_on_every_attempt_fails_naming_the_cause(db_url):
    result, _ = materialize(losing_asset({0, 1, 2}), db_url)
    assert not result.success
    reason = failure_reason(result.all_events)
    assert reason.startswith(f"OperationalError: {LOST}"), reason
    assert "after 2 retries" in reason
    assert "connection already closed" not in reason
