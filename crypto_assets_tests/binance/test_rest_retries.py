"""REST retries bounded by time, not by a count, against the simulator's faults over real HTTP:
bursts longer than any fixed count are outlasted, every retry is logged with its reason, a
418 ban longer than the budget fails at once and nothing more is sent, and the retry lines
reach the Dagster run's log."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import dagster as dg
import httpx
import pytest

from crypto_assets.binance.errors import BinanceUnavailableError, IPBannedError
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.simulator import SimulatorServer
from crypto_assets.resources import BinanceResource

T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000


@pytest.fixture
def retry_log(caplog):
    caplog.set_level(logging.WARNING, logger="crypto_assets.binance.rest")
    return caplog


def retry_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "crypto_assets.binance.rest"]


def test_a_5xx_burst_longer_than_any_fixed_count_is_outlasted(simulator, retry_log):
    simulator.faults.update(
        fail_next_n=10
    )  # more than the six attempts the client used to give up after
    with BinanceRestClient(simulator.url, backoff_s=0.001, retry_budget_s=30) as client:
        assert client.get("/api/v3/time")["serverTime"] > 0
    lines = retry_lines(retry_log)
    assert len(lines) == 10
    assert lines[0].startswith("Binance GET /api/v3/time: HTTP 503; attempt 1 failed, retrying in ")
    assert lines[-1].startswith(
        "Binance GET /api/v3/time: HTTP 503; attempt 10 failed, retrying in "
    )
    assert all("of the 30 s retry budget spent" in line for line in lines)


def test_the_budget_ends_the_retries_with_the_last_problem(simulator, retry_log):
    simulator.faults.update(fail_next_n=1_000_000, error_status=502)
    began = time.monotonic()
    with (
        BinanceRestClient(simulator.url, backoff_s=0.02, retry_budget_s=1.0) as client,
        pytest.raises(BinanceUnavailableError) as err,
    ):
        client.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m"}, weight=2)
    assert time.monotonic() - began < 1.0 + 0.5  # never sleeps past the budget
    assert "HTTP 502" in str(err.value) and "retry budget 1 s" in str(err.value)
    assert err.value.attempts == len(retry_lines(retry_log)) + 1
    assert "GET /api/v3/klines BTCUSDT: HTTP 502" in retry_lines(retry_log)[0]


def test_truncated_bodies_and_dropped_connections_are_retried_and_logged(simulator, retry_log):
    simulator.faults.update(truncate_next_n=2, truncate_style="json")
    with BinanceRestClient(simulator.url, backoff_s=0.001) as client:
        rows = [
            k for page in client.iter_klines("BTCUSDT", "1m", T0, T0 + 10 * MINUTE) for k in page
        ]
    assert [k.open_time for k in rows] == [T0 + i * MINUTE for i in range(10)]
    assert sum("truncated or malformed JSON body" in line for line in retry_lines(retry_log)) == 2


def test_a_429_storm_is_waited_out_without_drawing_a_ban(retry_log):
    """More 429s than the simulator tolerates before a ban (7 in a window): the client waits
    each Retry-After out (1 s windows here), so it is served in the end and never banned."""
    with (
        SimulatorServer(window_seconds=1) as sim,
        BinanceRestClient(sim.url, retry_budget_s=60) as client,
    ):
        sim.faults.update(throttle_next_n=8)
        assert client.get("/api/v3/ping") == {}
        assert sim.stats[429] == 8 and sim.stats[418] == 0
    lines = retry_lines(retry_log)
    assert len(lines) == 8 and all("HTTP 429 (Retry-After 1 s)" in line for line in lines)


def test_a_ban_longer_than_the_budget_fails_at_once_and_sends_nothing_more(simulator):
    # Another process on this IP ignored a 429 storm and drew a 418 ban (120 s, the first one).
    # The clock is frozen so the storm cannot straddle a rate-limit window (a new window forgets
    # the ignored 429s, and the seventh request would be a 429 again).
    simulator.clock.set(frozen_now_ms=int(time.time()) // 60 * 60_000 + 15_000)
    simulator.faults.update(throttle_next_n=7)
    statuses = [httpx.get(f"{simulator.url}/api/v3/ping").status_code for _ in range(7)]
    assert statuses[-1] == 418
    sent = simulator.stats["requests"]
    began = time.monotonic()
    with BinanceRestClient(simulator.url, retry_budget_s=30) as client:
        with pytest.raises(IPBannedError) as err:
            client.get("/api/v3/ping")
        assert time.monotonic() - began < 5  # failed at once, no waiting
        message = str(err.value)
        assert message.startswith("Binance banned this IP for 120 s, until ")
        assert "past the 30 s left to retry (config key 'rest_retry_seconds')" in message
        with pytest.raises(IPBannedError):
            client.get("/api/v3/time")
    assert simulator.stats["requests"] == sent + 1  # the second call sent nothing


def test_retries_inside_a_run_are_in_the_run_log(simulator):
    simulator.faults.update(fail_next_n=2)

    @dg.asset
    def server_time(binance: BinanceResource) -> None:
        with binance.client() as client:
            client.get("/api/v3/time")

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [server_time],
            resources={"binance": BinanceResource(base_url=simulator.url)},
            instance=instance,
        )
        assert result.success
        messages = [
            entry.user_message
            for entry in instance.all_logs(result.run_id)
            if entry.dagster_event is None
        ]
    retries = [m for m in messages if "HTTP 503; attempt" in m]
    assert [m.split("; ")[1].split(",")[0] for m in retries] == [
        "attempt 1 failed",
        "attempt 2 failed",
    ]
