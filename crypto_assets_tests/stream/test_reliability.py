"""The collector's reliability: killed, cut off, told to go, or losing its database.

Real processes, a real WebSocket socket, a real PostgreSQL; the simulator's market clock runs
30x (a minute every 2 s). Waits are on observable conditions (rows, heartbeats, the market
clock) with deadlines. Expected candles are the simulator's REST klines over HTTP.
"""

from __future__ import annotations

import signal
import socket

import psycopg2

from crypto_assets.assets.candles_1m_checks import COMPLETE, MATCHES_REST
from crypto_assets.warehouse.schema import migrate
from crypto_assets.warehouse.server import LocalPostgres
from crypto_assets_tests.assets.helpers import check_results
from crypto_assets_tests.metadata import int_entry
from crypto_assets_tests.stream.helpers import (
    DAY_START,
    MINUTE,
    CollectorThread,
    assert_a_sample_every_2s,
    assert_once_and_equal_to_rest,
    closed_minutes,
    minute_of,
    query,
    repair_with_sensor,
    spawn_stream,
    streaming,
    wait_until,
    write_config,
)


def test_sigkill_mid_minute_restart_and_the_sensor_leave_every_minute_once_and_equal_to_rest(
    stream_simulator, db_url, tmp_path
):
    config, log = write_config(tmp_path), tmp_path / "stream.log"
    first = spawn_stream(stream_simulator, db_url, config, log)
    try:
        streaming(db_url, stream_simulator)
        wait_until(
            lambda: 20_000 <= stream_simulator.clock.now_ms() % MINUTE <= 40_000,
            "the middle of a minute",
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        killed = minute_of(stream_simulator.clock.now_ms())
        wait_until(
            lambda: stream_simulator.clock.now_ms() >= killed + 2 * MINUTE,
            "two market minutes without a collector",
        )
        assert (
            closed_minutes(db_url, "BTCUSDT", killed, killed + 2 * MINUTE) == 0
        )  # the killed minute never closed
        second = spawn_stream(stream_simulator, db_url, config, log)
        try:
            streaming(db_url, stream_simulator)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0, log.read_text()[-2000:]
    finally:
        first.kill()
    assert "stopped cleanly" in log.read_text()

    due_end, runs = repair_with_sensor(stream_simulator, db_url)

    assert len(runs) == 1 and runs[0].success
    checks = check_results(runs[0])
    assert checks[COMPLETE].passed
    assert (
        checks[MATCHES_REST].passed
        and int_entry(checks[MATCHES_REST].metadata, "stream_closed_candles") > 0
    )
    assert_once_and_equal_to_rest(stream_simulator, db_url, DAY_START, due_end)


def test_a_dropped_websocket_with_refused_reconnects_is_repaired_by_the_sensor(
    stream_simulator, db_url, collector
):
    running = collector()
    streaming(db_url, stream_simulator)
    stream_simulator.streams.faults.update(refuse_s=2.0)  # two market minutes
    dropped = minute_of(stream_simulator.clock.now_ms())
    assert stream_simulator.streams.drop_all() == 1
    wait_until(lambda: running.collector.streams[0].stats.reconnect_count == 1, "a reconnect")
    after = streaming(db_url, stream_simulator)
    running.stop()
    assert stream_simulator.streams.stats["status_503"] >= 1
    assert (
        closed_minutes(db_url, "BTCUSDT", dropped, after) < (after - dropped) // MINUTE
    )  # the stream missed some
    assert query(db_url, "SELECT reconnect_count FROM stream_heartbeats") == [(1,)]

    due_end, runs = repair_with_sensor(stream_simulator, db_url)

    assert [run.success for run in runs] == [True]
    assert_once_and_equal_to_rest(stream_simulator, db_url, DAY_START, due_end)


def test_a_stalled_stream_is_dropped_and_reopened(stream_simulator, db_url, collector):
    running = collector(symbols=("BTCUSDT",))
    streaming(db_url, stream_simulator, ("BTCUSDT",))
    stream_simulator.streams.faults.update(
        stall_s=3.0
    )  # longer than the collector's 2 s idle timeout
    wait_until(
        lambda: running.collector.streams[0].stats.reconnect_count >= 1,
        "a reconnect after the stall",
    )
    streaming(db_url, stream_simulator, ("BTCUSDT",))


def test_server_shutdown_and_connection_age_reconnect_without_losing_a_minute(
    stream_simulator, db_url, collector
):
    running = collector(
        max_connection_age_s=1.5
    )  # a new connection every 1.5 s (the exchange's 24 h)
    first = streaming(db_url, stream_simulator)
    wait_until(
        lambda: running.collector.streams[0].stats.reconnect_count >= 2, "two reconnects for age"
    )
    assert stream_simulator.streams.shutdown_all(grace_s=2.0) >= 1
    reconnects = running.collector.streams[0].stats.reconnect_count
    wait_until(
        lambda: running.collector.streams[0].stats.reconnect_count > reconnects,
        "a reconnect on serverShutdown",
    )
    last = streaming(db_url, stream_simulator)
    running.stop()
    assert_once_and_equal_to_rest(stream_simulator, db_url, first, last + MINUTE)
    assert query(
        db_url,
        "SELECT DISTINCT source FROM candles_1m WHERE is_closed AND open_time >= to_timestamp(%s / 1000.0)"
        " AND open_time < to_timestamp(%s / 1000.0)",
        (first, last + MINUTE),
    ) == [("stream",)]


def test_a_postgres_restart_loses_nothing_inside_the_buffer(stream_simulator, pg_scratch_dir):
    pg = LocalPostgres(pg_scratch_dir / "data", port=_free_port(), durable=False)
    pg.start()
    try:
        url = pg.create_database("crypto_restart")
        with psycopg2.connect(url) as conn:
            migrate(conn)
        conn.close()
        running = CollectorThread.start(stream_simulator, url, sampling_interval_s=2.0)
        try:
            first = streaming(url, stream_simulator)
            pg.stop()
            down = minute_of(stream_simulator.clock.now_ms())
            wait_until(
                lambda: stream_simulator.clock.now_ms() >= down + 2 * MINUTE,
                "two market minutes without a database",
            )
            assert len(running.collector.buffer) > 0
            pg.start()
            last = streaming(url, stream_simulator)
        finally:
            running.stop()
        assert_once_and_equal_to_rest(stream_simulator, url, first, last + MINUTE)
        assert_a_sample_every_2s(url, first, last + MINUTE)  # the outage included
        assert (
            running.collector.buffer.dropped_candles
            == running.collector.buffer.dropped_samples
            == 0
        )
    finally:
        pg.stop()


def test_an_unknown_symbol_stops_the_command_at_startup_naming_it(
    stream_simulator, db_url, tmp_path
):
    config, log = write_config(tmp_path, symbols=("BTCUSDT", "NOPEUSDT")), tmp_path / "stream.log"
    process = spawn_stream(stream_simulator, db_url, config, log)
    assert process.wait(30) == 2
    assert "NOPEUSDT" in log.read_text() and stream_simulator.streams.stats["status_101"] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
