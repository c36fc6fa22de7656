"""Helpers for the collector tests: the market clock, waiting on conditions, REST's own candles.

Expected candles always come from the simulator's REST klines (a different code path from the
stream: HTTP, JSON rows), read back from the table as text, so equality is to the digit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psycopg2
import yaml
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from crypto_assets.assets.candles_1m import build_candles_1m
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.automation.stream_gaps import build_stream_gaps_sensor, due_windows
from crypto_assets.binance.simulator import SimClock, SimulatorServer
from crypto_assets.binance.simulator.stream_limits import StreamRules
from crypto_assets.binance.wire import interval_ms, ms_to_datetime
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets.stream.collector import Collector, CollectorConfig
from crypto_assets_tests.assets.helpers import materialize_range, resources

MINUTE = 60_000
SPEED = 60.0  # a market minute takes 1 s of wall time
START_MS = int(datetime(2025, 3, 10, 0, 0, 40, tzinfo=UTC).timestamp() * 1000)  # 40 s into a day
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
WAIT_S = 30.0
DAY_START = START_MS - START_MS % 86_400_000


def fast_forward_simulator() -> SimulatorServer:
    """The simulator every stream test uses (not started): market time 60x faster than the wall
    clock (a minute a second) from START_MS, pings every 0.5 s."""
    rules = StreamRules(ping_interval_s=0.5, pong_timeout_s=5.0)
    return SimulatorServer(clock=SimClock(start_ms=START_MS, speed=SPEED), stream_rules=rules)


def wait_until(
    condition: Callable[[], object], what: str, timeout_s: float = WAIT_S, every_s: float = 0.05
):
    """Poll ``condition`` until it returns something truthy (returned); fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s:g} s waiting for {what} (last value: {value!r})"
            )
        time.sleep(every_s)


def query(db_url: str, sql: str, params=None) -> list[tuple]:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def execute(db_url: str, sql: str, params=None) -> None:
    """One statement that returns nothing (DDL), committed."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
    conn.close()


def table_candles(db_url: str, symbol: str, start_ms: int, end_ms: int) -> list[tuple]:
    """candles_1m rows opening in [start, end) as REST's 11 values (text) + is_closed, source."""
    return query(
        db_url,
        "SELECT (extract(epoch FROM open_time) * 1000)::bigint, open::text, high::text, low::text, close::text,"
        " volume::text, (extract(epoch FROM close_time) * 1000)::bigint, quote_volume::text, trade_count,"
        " taker_buy_base_volume::text, taker_buy_quote_volume::text, is_closed, source FROM candles_1m"
        " WHERE symbol = %s AND open_time >= to_timestamp(%s / 1000.0) AND open_time < to_timestamp(%s / 1000.0)"
        " ORDER BY open_time",
        (symbol, start_ms, end_ms),
    )


def rest_candles(
    api_url: str, symbol: str, start_ms: int, end_ms: int, interval: str = "1m"
) -> list[tuple]:
    """REST's closed klines opening in [start, end), page by page, without the 12th 'ignore' value."""
    rows: list[tuple] = []
    while start_ms < end_ms:
        response = httpx.get(
            f"{api_url}/api/v3/klines",
            params={
                "symbol": symbol,
                "interval": interval,
                "startTime": start_ms,
                "endTime": end_ms - 1,
                "limit": 1000,
            },
            timeout=10,
        )
        response.raise_for_status()
        page = response.json()
        if not page:
            break
        rows += [tuple(row[:11]) for row in page]
        start_ms = page[-1][0] + interval_ms(interval)
    server_now = httpx.get(f"{api_url}/api/v3/time", timeout=10).json()["serverTime"]
    return [row for row in rows if row[6] < server_now]


def closed_minutes(db_url: str, symbol: str, start_ms: int, end_ms: int) -> int:
    return query(
        db_url,
        "SELECT count(*) FROM candles_1m WHERE symbol = %s AND is_closed"
        " AND open_time >= to_timestamp(%s / 1000.0) AND open_time < to_timestamp(%s / 1000.0)",
        (symbol, start_ms, end_ms),
    )[0][0]


def minute_of(ms: int) -> int:
    return ms - ms % MINUTE


def streaming(db_url, simulator, symbols=SYMBOLS) -> int:
    """Wait until messages flow (a heartbeat's last message is fresh: a collector process takes a
    market minute or two to start), then until every symbol has a closed minute that began after
    that; returns that minute."""
    wait_until(
        lambda: query(
            db_url,
            "SELECT 1 FROM stream_heartbeats WHERE last_message_at > now() - interval '0.5 s'",
        ),
        "messages flowing",
    )
    minute = minute_of(simulator.clock.now_ms()) + MINUTE
    wait_until(
        lambda: all(closed_minutes(db_url, s, minute, minute + MINUTE) for s in symbols),
        "closed minutes streamed",
    )
    return minute


class CollectorThread:
    """A ``Collector`` running on its own event loop thread, stopped like SIGTERM stops it."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="collector", daemon=True)

    @classmethod
    def start(cls, simulator, db_url: str, **overrides) -> CollectorThread:
        settings = {
            "symbols": SYMBOLS,
            "ws_url": simulator.ws_url,
            "api_url": simulator.url,
            "database_url": db_url,
            "flush_interval_s": 0.1,
            "heartbeat_interval_s": 0.2,
            "idle_timeout_s": 2.0,
        }
        collector = Collector(CollectorConfig(**(settings | overrides)))
        collector.validate()
        thread = cls(collector)
        thread._thread.start()
        return thread

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.collector.run(self._stop))
        except BaseException as err:  # noqa: BLE001 - reported by stop()
            self.error = err
        finally:
            self._loop.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout_s: float = WAIT_S) -> None:
        """Set the stop event (what SIGTERM does) and wait for the final write."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout_s)
            assert not self._thread.is_alive(), "the collector did not stop"
        if self.error is not None:
            raise self.error


def insert_candles(
    db_url: str,
    symbol: str,
    rows: Sequence[Sequence[Any]],
    is_closed: bool = True,
    source: str = "stream",
) -> None:
    """Put REST-shaped rows (11 values) into candles_1m as the collector would."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        for row in rows:
            cur.execute(
                "INSERT INTO candles_1m VALUES (%s, to_timestamp(%s / 1000.0), to_timestamp(%s "
                "/ 1000.0), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    symbol,
                    row[0],
                    row[6],
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    row[5],
                    row[7],
                    row[8],
                    row[9],
                    row[10],
                    is_closed,
                    source,
                ),
            )
    conn.close()


def stream_settings(symbols=SYMBOLS) -> Settings:
    """Settings whose partitions start on the simulated day (so only that day is ever due)."""
    return Settings(symbols=tuple(symbols), history_start=ms_to_datetime(START_MS).date())


def stream_gaps_tick(
    instance: dg.DagsterInstance,
    settings: Settings,
    db_url: str,
    now: datetime,
    api_url: str = "http://unused",
):
    """One evaluation of the stream-gaps sensor at ``now`` (its run requests, cursor, check events)."""
    sensor = build_stream_gaps_sensor(dg.AssetKey("candles_1m"), settings, 200, now=lambda: now)
    defs = dg.Definitions(
        assets=[build_candles_1m(day_symbol_partitions(settings))],
        sensors=[sensor],
        resources=resources(api_url, db_url),
    )
    context = dg.build_sensor_context(
        instance=instance,
        definitions=defs,
        resources={"warehouse": WarehouseResource(database_url=db_url)},
    )
    return sensor.evaluate_tick(context)


def repair_with_sensor(
    simulator, db_url: str, symbols=SYMBOLS, instance: dg.DagsterInstance | None = None
) -> tuple[int, list]:
    """A sensor tick at the simulated present, then every run it requests (on ``instance``, a
    test instance by default); returns the end of the minutes that tick found due (exclusive, ms)
    and the runs' results."""
    settings = stream_settings(symbols)
    tick_at = ms_to_datetime(simulator.clock.now_ms())
    with contextlib.nullcontext(instance) if instance else dg.instance_for_test() as instance:
        result = stream_gaps_tick(instance, settings, db_url, tick_at, simulator.url)
        runs = [
            materialize_range(
                "candles_1m",
                settings,
                simulator.url,
                db_url,
                r.tags[ASSET_PARTITION_RANGE_START_TAG],
                r.tags[ASSET_PARTITION_RANGE_END_TAG],
                instance,
            )
            for r in result.run_requests
        ]
    return due_windows(symbols, settings.history_start, tick_at)[-1][3], runs


def assert_once_and_equal_to_rest(
    simulator, db_url: str, start_ms: int, end_ms: int, symbols=SYMBOLS
) -> None:
    """Every minute in [start, end) of every symbol: one closed row, equal to REST's kline."""
    for symbol in symbols:
        rows = table_candles(db_url, symbol, start_ms, end_ms)
        assert len({row[0] for row in rows}) == len(rows), f"{symbol}: a minute appears twice"
        assert [row[0] for row in rows] == list(range(start_ms, end_ms, MINUTE)), (
            f"{symbol}: minutes missing"
        )
        assert all(row[11] for row in rows), f"{symbol}: a row is not closed"
        assert [row[:11] for row in rows] == rest_candles(
            simulator.url, symbol, start_ms, end_ms
        ), f"{symbol}: differs from REST"


def assert_a_sample_every_2s(db_url: str, start_ms: int, end_ms: int, symbols=SYMBOLS) -> None:
    """One price sample per symbol for every 2 s push of market time in [start, end) (sampling every 2 s)."""
    samples = query(
        db_url,
        "SELECT symbol, count(*) FROM price_samples WHERE sampled_at >= to_timestamp(%s / 1000.0)"
        " AND sampled_at < to_timestamp(%s / 1000.0) GROUP BY 1",
        (start_ms, end_ms),
    )
    assert sorted(samples) == [(symbol, (end_ms - start_ms) // 2_000) for symbol in sorted(symbols)]


def write_config(directory: Path, symbols=SYMBOLS, **keys) -> Path:
    """A CRYPTO_CONFIG file for a collector subprocess (fast flushes and stall detection)."""
    values = {
        "symbols": list(symbols),
        "history_start": ms_to_datetime(START_MS).date().isoformat(),
        "stream_flush_interval_seconds": 0.1,
        "stream_idle_timeout_seconds": 2.0,
        **keys,
    }
    path = directory / "crypto.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def spawn_stream(simulator, db_url: str, config: Path, log: Path) -> subprocess.Popen:
    """``crypto stream`` as its own process, logging to ``log``."""
    env = {
        **os.environ,
        "CRYPTO_CONFIG": str(config),
        "DATABASE_URL": db_url,
        "BINANCE_API_URL": simulator.url,
        "BINANCE_WS_URL": simulator.ws_url,
        "DAGSTER_HOME": str(config.parent),
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "crypto_assets.cli", "stream"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
