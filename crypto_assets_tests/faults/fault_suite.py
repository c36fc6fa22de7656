"""The fault suite (issue 15, point 7): each way the exchange, the database or a process fails,
done for real, then counted the same five ways.

A :class:`FaultLab` holds everything real the scenarios need: a PostgreSQL cluster of its own (one
scenario restarts it), holding the warehouse and the Dagster instance's storage; the project's
``dagster.yaml`` with a ``dagster-daemon`` doing run monitoring (a run whose process died is
marked failed); the Binance simulator over HTTP, with 1 s weight windows (a 429's
``Retry-After`` is at most 1 s) and 8 s first bans; and the fast-forward simulator of the stream
tests for the collector. Each scenario has symbols of its own (the table and the instance are
shared, nothing is wiped), 3 past UTC days of ``candles_15m`` (the collector: ``candles_1m`` of
its simulated day), and:

1. runs ``crypto backfill`` (or ``crypto stream``) as a process, switching its fault on at the
   moment that puts it inside the run: after the command's symbol check, or once the run holds
   its write lock (the transaction is open, the COPY under way);
2. waits, bounded, until every run it started has finished or been failed by run monitoring;
3. lets the automation run its course: the catch-up sensor of ``candles_15m`` (the stream-gaps
   sensor for the collector) ticks, each tick's runs are executed, and its clock moves 61 minutes
   a tick so that each retry backoff (1 min, 10 min, 1 h) is due at the next tick; until a tick
   asks for nothing and no retry is waiting;
4. counts, in :class:`Counts`: rows lost (candles the simulator serves over REST that the table
   does not hold exactly), duplicate rows (a second row for a candle, or a row for a candle the
   exchange does not have), holes (partitions Dagster does not report materialized; for the
   collector, minutes without a closed row), runs left STARTED (not finished), and bans drawn
   (418 bans the simulator started, the one a scenario imposes on purpose excluded).

A fault that did not reach the run (say, a burst answered before the run began) is a
:class:`ScenarioMissed` error, never a clean row of zeros. Used by ``test_fault_suite.py``
(every count 0) and ``bench/bench_faults.py`` (the table in BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

import dagster as dg
import httpx
import psycopg2
import yaml

from crypto_assets.assets.candles_15m import MAX_PARTITIONS_PER_RUN, build_candles_15m
from crypto_assets.assets.partitions import day_start, day_symbol_partitions, partition_keys
from crypto_assets.automation.catch_up import NOT_FINISHED
from crypto_assets.automation.run_shapes import RANGE_END_TAG, RANGE_START_TAG
from crypto_assets.automation.sensors import build_catch_up_sensor
from crypto_assets.binance.simulator import SimulatorServer
from crypto_assets.binance.wire import datetime_to_ms
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets.warehouse.locks import lock_symbols
from crypto_assets.warehouse.server import LocalPostgres
from crypto_assets_tests.assets.helpers import materialize_range, resources
from crypto_assets_tests.faults.daemon_process import DaemonInstance
from crypto_assets_tests.plugins.postgres import new_database
from crypto_assets_tests.stream.helpers import (
    DAY_START,
    MINUTE,
    fast_forward_simulator,
    minute_of,
    query,
    repair_with_sensor,
    rest_candles,
    spawn_stream,
    streaming,
    table_candles,
    wait_until,
    write_config,
)

DAYS = 3
WINDOW_S = 1  # the simulator's weight window: a 429 asks for at most 1 s
BAN_S = 8  # its first 418 ban: longer than the run takes to send its first request
ROGUE_REQUESTS = 30
REST_RETRY_S = 60.0  # rest_retry_seconds of the scenarios' commands
SLOW_MS = 1500  # the latency that keeps a run in its transaction long enough to act on it
CATCH_UP_TICK = timedelta(minutes=61)  # every retry backoff but the daily one is due a tick later
MAX_TICKS = 6
COMMAND_S = 90.0  # the longest a scenario's command may take
SETTLE_S = 45.0  # the longest run monitoring may take to fail a dead run
COLLECTOR_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DAEMON_MODULE = "crypto_assets_tests.faults.monitoring_only_defs"


class ScenarioMissed(AssertionError):
    """The fault did not happen where the scenario needs it (say, the run had already ended)."""


@dataclass(frozen=True)
class Counts:
    """What a scenario left behind; every one should be 0."""

    rows_lost: int
    duplicate_rows: int
    holes: int
    runs_started: int
    bans: int


@dataclass(frozen=True)
class Outcome:
    """A scenario's counts, its wall time, and what the fault did (the evidence that it hit)."""

    scenario: str
    counts: Counts
    seconds: float
    fault: str


@dataclass(frozen=True)
class Case:
    """One scenario's own symbols and days, and its working directory."""

    name: str
    symbols: tuple[str, ...]
    first_day: date
    last_day: date
    directory: Path

    @property
    def settings(self) -> Settings:
        return Settings(symbols=self.symbols, history_start=self.first_day)

    @property
    def span_ms(self) -> tuple[int, int]:
        return (
            datetime_to_ms(day_start(self.first_day)),
            datetime_to_ms(day_start(self.last_day + timedelta(days=1))),
        )


def compare(expected: list[tuple], stored: list[tuple]) -> tuple[int, int]:
    """(rows lost, duplicate rows) of ``stored`` against ``expected`` rows, each a tuple starting
    with (symbol, open time): an expected row not stored with exactly its values is lost; a
    stored row beyond the first for its candle, or for a candle not expected, is a duplicate."""
    expected_keys = {row[:2] for row in expected}
    per_key = Counter(row[:2] for row in stored)
    duplicates = sum(n - 1 if key in expected_keys else n for key, n in per_key.items())
    return len(set(expected) - set(stored)), duplicates


class FaultLab:
    """The real processes and servers the scenarios run against (module docstring)."""

    def __init__(self, root: Path, pg: LocalPostgres):
        self.root, self.pg = root, pg
        self._symbols: list[str] = []
        self._daemon: DaemonInstance | None = None

    def __enter__(self) -> FaultLab:
        self.warehouse_url = new_database(self.pg, "faults_warehouse", migrate=True)
        self.exchange = SimulatorServer(
            window_seconds=WINDOW_S, weight_limit=100, first_ban_s=BAN_S, extra_symbols=20
        ).start()
        self.market = fast_forward_simulator().start()
        self._symbols = [
            spec.symbol
            for spec in self.exchange.symbols.values()
            if spec.status == "TRADING" and spec.symbol not in COLLECTOR_SYMBOLS
        ]
        self._daemon = DaemonInstance(self.root / "platform", self.pg, DAEMON_MODULE)
        self.instance = self._daemon.start(("MONITORING",))
        return self

    def __exit__(self, *exc) -> None:
        if self._daemon is not None:
            self._daemon.stop()
        self.exchange.stop()
        self.market.stop()

    # -- running a scenario -------------------------------------------------------------------

    def run(self, scenario: str, **variant) -> Outcome:
        """Run ``scenario`` (a name of SCENARIOS) on symbols of its own; ``variant`` switches a
        protection off (see the scenario)."""
        began = time.monotonic()
        since = datetime.now(UTC)
        case = self._case(scenario, 2 if scenario == "two backfills at once" else 1)
        self.exchange.reset()
        fault, counts = SCENARIOS[scenario](self, case, since, **variant)
        return Outcome(scenario, counts, time.monotonic() - began, fault)

    def _case(self, scenario: str, symbols: int) -> Case:
        if len(self._symbols) < symbols:
            raise RuntimeError("the simulator has no unused symbol left for another scenario")
        chosen, self._symbols = tuple(self._symbols[:symbols]), self._symbols[symbols:]
        last_day = datetime.now(UTC).date() - timedelta(days=2)
        directory = self.root / scenario.replace(" ", "-") / chosen[0]
        directory.mkdir(parents=True)
        return Case(scenario, chosen, last_day - timedelta(days=DAYS - 1), last_day, directory)

    def env(self, case: Case, **config) -> dict[str, str]:
        """The environment of a ``crypto`` command of ``case``: its config file (with ``config``
        keys), this lab's warehouse, instance and simulator, no archive (REST only)."""
        path = case.directory / "crypto.yaml"
        values = {
            "symbols": list(case.symbols),
            "history_start": case.first_day.isoformat(),
            "rest_retry_seconds": REST_RETRY_S,
            **config,
        }
        path.write_text(yaml.safe_dump(values))
        assert self._daemon is not None, "the lab is not started"
        return {
            **self._daemon.env,
            "DATABASE_URL": self.warehouse_url,
            "BINANCE_API_URL": self.exchange.url,
            "BINANCE_ARCHIVE_URL": "",
            "CRYPTO_CONFIG": str(path),
            "CRYPTO_DATA_DIR": str(case.directory / "data"),
        }

    def command(self, case: Case, env: dict[str, str], *argv: str) -> subprocess.Popen:
        """``crypto ARGV`` as its own process, its output in the case's directory."""
        log = case.directory / f"{argv[0]}-{len(list(case.directory.glob('*.log')))}.log"
        with log.open("w") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "crypto_assets.cli", *argv],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def backfill(self, case: Case, env: dict[str, str]) -> subprocess.Popen:
        return self.command(
            case,
            env,
            "backfill",
            "candles_15m",
            "--start",
            case.first_day.isoformat(),
            "--end",
            case.last_day.isoformat(),
        )

    def finish(self, process: subprocess.Popen, case: Case) -> int:
        """Wait for a command (bounded); its exit status."""
        try:
            return process.wait(timeout=COMMAND_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            logs = "\n".join(p.read_text()[-2000:] for p in sorted(case.directory.glob("*.log")))
            raise AssertionError(
                f"{case.name}: a command ran past {COMMAND_S:g} s\n{logs}"
            ) from None

    # -- the moments a fault is switched on at -------------------------------------------------

    def after_symbol_checks(self, commands: int = 1) -> None:
        """Wait until ``commands`` commands have checked their symbols (one exchangeInfo each):
        what the exchange answers next goes to their runs."""
        weight = 20 * commands
        wait_until(
            lambda: self.exchange.stats["weight /api/v3/exchangeInfo"] >= weight,
            "the backfill's symbol check",
            timeout_s=COMMAND_S,
            every_s=0.01,
        )

    def writers(self, case: Case, granted: bool = True) -> list[int]:
        """Backends holding (``granted``) or waiting for the write lock of one of the case's
        ``candles_15m`` symbols (``locks.lock_symbols``: an advisory lock on a text's hash)."""
        rows = query(
            self.warehouse_url,
            "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted = %s"
            " AND l.objsubid = 1 AND l.objid::bigint = ANY(SELECT hashtext(k)::bigint & 4294967295"
            " FROM unnest(%s::text[]) AS k)",
            (granted, [f"candles_15m:{symbol}" for symbol in case.symbols]),
        )
        return [pid for (pid,) in rows]

    def in_transaction(self, case: Case, process: subprocess.Popen) -> None:
        """Wait until the case's run holds its write lock (its transaction is open), while
        ``process`` runs."""

        def holding() -> bool:
            if process.poll() is not None:
                raise ScenarioMissed("the command ended before its run began writing")
            return bool(self.writers(case))

        wait_until(holding, "a run in its write transaction", timeout_s=COMMAND_S, every_s=0.02)

    @contextlib.contextmanager
    def holding_write_locks(self, case: Case) -> Iterator[None]:
        """Hold the case's ``candles_15m`` write locks (as a run does) until the block ends: the
        writers that come meanwhile queue for them, and get them in the order they came."""
        conn = psycopg2.connect(self.warehouse_url)
        try:
            with conn.cursor() as cur:
                lock_symbols(cur, "candles_15m", case.symbols)
            yield
        finally:
            conn.rollback()
            conn.close()

    def queued_writers(self, case: Case, count: int, *processes: subprocess.Popen) -> None:
        """Wait until ``count`` writers queue for the case's locks, while ``processes`` run."""

        def queued() -> bool:
            if any(process.poll() is not None for process in processes):
                raise ScenarioMissed("a command ended before it queued for the write lock")
            return len(self.writers(case, granted=False)) >= count

        wait_until(queued, f"{count} writer(s) queued", timeout_s=COMMAND_S, every_s=0.05)

    # -- the automation, and the counts ---------------------------------------------------------

    def settle(self, since: datetime) -> None:
        """Wait (at most SETTLE_S) until every run created since ``since`` has finished; run
        monitoring fails the ones whose process died. What is left is counted, not raised."""
        deadline = time.monotonic() + SETTLE_S
        while self.unfinished_runs(since) and time.monotonic() < deadline:
            time.sleep(0.25)

    def unfinished_runs(self, since: datetime) -> int:
        return len(
            self.instance.get_run_records(dg.RunsFilter(statuses=NOT_FINISHED, created_after=since))
        )

    def catch_up(self, case: Case) -> int:
        """The catch-up sensor's ticks and their runs, until a tick asks for nothing and no retry
        waits (at most MAX_TICKS); returns the runs executed."""
        settings = case.settings
        partitions = day_symbol_partitions(settings)
        asset = build_candles_15m(partitions)
        # The sensor's "today" is the case's last day (its partitions are the case's, no more);
        # they were written after that clock's present, so none is stale.
        start = datetime.combine(case.last_day, day_time(0, 5), UTC)
        runs = 0
        for tick in range(MAX_TICKS):
            now = start + tick * CATCH_UP_TICK
            sensor = build_catch_up_sensor(
                asset.key, partitions, settings, MAX_PARTITIONS_PER_RUN, now=_fixed_clock(now)
            )
            context = dg.build_sensor_context(
                instance=self.instance,
                definitions=dg.Definitions(
                    assets=[asset],
                    sensors=[sensor],
                    resources=resources(self.exchange.url, self.warehouse_url, archive_url=""),
                ),
                resources={"warehouse": WarehouseResource(database_url=self.warehouse_url)},
            )
            result = sensor.evaluate_tick(context)
            waiting = json.loads(result.cursor)["waiting_retries"] if result.cursor else {}
            if not result.run_requests and not waiting:
                break
            for request in result.run_requests or ():
                materialize_range(
                    "candles_15m",
                    settings,
                    self.exchange.url,
                    self.warehouse_url,
                    request.tags[RANGE_START_TAG],
                    request.tags[RANGE_END_TAG],
                    self.instance,
                    archive_url="",
                )
                runs += 1
        return runs

    def candle_counts(self, case: Case, since: datetime, bans_imposed: int = 0) -> Counts:
        """The five counts of a ``candles_15m`` scenario (module docstring)."""
        bans = self.exchange.limiter.bans_started() - bans_imposed
        start_ms, end_ms = case.span_ms
        expected = [
            (symbol, *row)
            for symbol in case.symbols
            for row in rest_candles(self.exchange.url, symbol, start_ms, end_ms, "15m")
        ]
        stored = query(
            self.warehouse_url,
            "SELECT symbol, (extract(epoch FROM open_time) * 1000)::bigint, open::text, high::text,"
            " low::text, close::text, volume::text, (extract(epoch FROM close_time) * 1000)::bigint,"
            " quote_volume::text, trade_count, taker_buy_base_volume::text,"
            " taker_buy_quote_volume::text FROM candles_15m WHERE symbol = ANY(%s)"
            " AND open_time >= to_timestamp(%s / 1000.0) AND open_time < to_timestamp(%s / 1000.0)",
            (list(case.symbols), start_ms, end_ms),
        )
        lost, duplicates = compare(expected, stored)
        keys = partition_keys(dict.fromkeys(case.symbols, case.first_day), case.last_day)
        status = self.instance.get_status_by_partition(
            dg.AssetKey("candles_15m"), keys, day_symbol_partitions(case.settings)
        )
        holes = sum((status or {}).get(key) != dg.AssetPartitionStatus.MATERIALIZED for key in keys)
        return Counts(lost, duplicates, holes, self.unfinished_runs(since), bans)

    def candle_scenario_end(self, case: Case, since: datetime, bans_imposed: int = 0) -> Counts:
        """Settle, let the automation run its course, count."""
        self.exchange.faults.reset()
        self.settle(since)
        self.catch_up(case)
        return self.candle_counts(case, since, bans_imposed)

    def restart_postgres(self) -> None:
        """Stop the cluster (fast: every session is cut) and start it again on the same port."""
        self.pg.stop()
        self.pg.start()


# -- the scenarios ---------------------------------------------------------------------------------
# Each takes the lab, its case and the time it began; returns what the fault did and the counts.


def _fault_after_symbol_check(fault: dict, consumed: str, describe: Callable[[dict], str]):
    """A scenario that switches ``fault`` on once the backfill has checked its symbols, so that it
    hits the run's requests; ``consumed`` names the counter that must be used up by the run."""

    def scenario(lab: FaultLab, case: Case, since: datetime) -> tuple[str, Counts]:
        backfill = lab.backfill(case, lab.env(case))
        lab.after_symbol_checks()
        lab.exchange.faults.update(**fault)
        status = lab.finish(backfill, case)
        left = getattr(lab.exchange.faults.current, consumed)
        if left:
            raise ScenarioMissed(f"{left} of the {consumed} fault never reached the run")
        stats = lab.exchange.stats.snapshot()
        return f"{describe(stats)}; backfill exit {status}", lab.candle_scenario_end(case, since)

    return scenario


def five_xx_burst(
    lab: FaultLab, case: Case, since: datetime, *, protected: bool = True
) -> tuple[str, Counts]:
    """Four 503s in a row at the run's first requests. ``protected=False``: a 0.1 s retry budget
    and no automation afterwards (the two protections off)."""
    env = lab.env(case) if protected else lab.env(case, rest_retry_seconds=0.1)
    backfill = lab.backfill(case, env)
    lab.after_symbol_checks()
    lab.exchange.faults.update(fail_next_n=4)
    status = lab.finish(backfill, case)
    fault = f"{lab.exchange.stats['5xx']} x 503; backfill exit {status}"
    if protected:
        if lab.exchange.faults.current.fail_next_n:
            raise ScenarioMissed("the 503s did not all reach the run")
        return fault, lab.candle_scenario_end(case, since)
    lab.exchange.faults.reset()
    lab.settle(since)
    return fault, lab.candle_counts(case, since)


def four_eighteen(lab: FaultLab, case: Case, since: datetime) -> tuple[str, Counts]:
    """Another process on this IP ignores a 429 storm and draws a 418 ban just as the backfill's
    run starts: the run must wait the ban out without sending more (which would extend it)."""
    backfill = lab.backfill(case, lab.env(case))
    lab.after_symbol_checks()
    lab.exchange.faults.update(throttle_next_n=ROGUE_REQUESTS)
    with httpx.Client(base_url=lab.exchange.url) as rogue:  # no Retry-After honoured
        for _ in range(ROGUE_REQUESTS):  # 7 in a window draw the ban (more if one ends meanwhile)
            if rogue.get("/api/v3/ping").status_code == 418:
                break
    lab.exchange.faults.update(throttle_next_n=0)
    if lab.exchange.limiter.bans_started() != 1:
        raise ScenarioMissed(f"{ROGUE_REQUESTS} unheeded 429s drew no ban")
    status = lab.finish(backfill, case)
    product_418s = lab.exchange.stats[418] - 1
    if product_418s < 1:
        raise ScenarioMissed("the ban ended before the run's first request")
    fault = f"{BAN_S} s ban imposed; the run got {product_418s} x 418; backfill exit {status}"
    return fault, lab.candle_scenario_end(case, since, bans_imposed=1)


def postgres_restart(lab: FaultLab, case: Case, since: datetime) -> tuple[str, Counts]:
    """PostgreSQL (warehouse and Dagster storage alike) restarted while the run's transaction is
    open: its COPY is cut, the step is retried."""
    backfill = lab.backfill(case, lab.env(case))
    lab.after_symbol_checks()
    lab.exchange.faults.update(latency_ms=SLOW_MS)
    lab.in_transaction(case, backfill)
    lab.restart_postgres()
    lab.exchange.faults.update(latency_ms=0)
    status = lab.finish(backfill, case)
    retried = sum(
        len(
            lab.instance.all_logs(
                r.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
            )
        )
        for r in lab.instance.get_run_records(dg.RunsFilter(created_after=since))
    )
    return (
        f"restarted during the run's transaction; {retried} step retry; backfill exit {status}",
        lab.candle_scenario_end(case, since),
    )


def run_killed(lab: FaultLab, case: Case, since: datetime) -> tuple[str, Counts]:
    """The backfill process (its run's only process) SIGKILLed in the middle of its partition's
    transaction: run monitoring must fail the run, the catch-up retry its partitions."""
    backfill = lab.backfill(case, lab.env(case))
    lab.after_symbol_checks()
    lab.exchange.faults.update(latency_ms=SLOW_MS)
    lab.in_transaction(case, backfill)
    backfill.send_signal(signal.SIGKILL)
    backfill.wait()
    killed = time.monotonic()
    lab.settle(since)
    failed = lab.instance.get_run_records(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], created_after=since)
    )
    if not failed:
        raise ScenarioMissed("the killed backfill had no run")
    monitored = time.monotonic() - killed
    return (
        f"SIGKILL in the run's transaction; run failed by run monitoring {monitored:.0f} s later",
        lab.candle_scenario_end(case, since),
    )


def two_backfills(lab: FaultLab, case: Case, since: datetime) -> tuple[str, Counts]:
    """Two ``crypto backfill`` of the same days and symbols at once: both runs queue for the
    write lock (held until both are there) and write in turn."""
    env = lab.env(case)
    with lab.holding_write_locks(case):
        both = [lab.backfill(case, env), lab.backfill(case, env)]
        lab.queued_writers(case, 2, *both)
    statuses = [lab.finish(process, case) for process in both]
    return f"both runs queued at once; backfill exits {statuses}", lab.candle_scenario_end(
        case, since
    )


def clear_during_run(lab: FaultLab, case: Case, since: datetime) -> tuple[str, Counts]:
    """``crypto clear --raw --symbol S`` while a run of S is in its write transaction: the clear
    queues behind the run's write lock (the run's transaction is made to wait for its lock
    until the clear is there too), deletes what the run wrote once it commits, and what it
    deleted must be refilled by the automation."""
    env = lab.env(case)
    with lab.holding_write_locks(case):
        backfill = lab.backfill(case, env)
        lab.queued_writers(case, 1, backfill)
        clear = lab.command(case, env, "clear", "--raw", "--symbol", case.symbols[0], "--yes")
        lab.queued_writers(case, 2, backfill, clear)
    statuses = [lab.finish(backfill, case), lab.finish(clear, case)]
    return (
        f"the clear queued behind the run's lock; exits {statuses}",
        lab.candle_scenario_end(case, since),
    )


def collector_killed(lab: FaultLab, case: Case, since: datetime) -> tuple[str, Counts]:
    """``crypto stream`` SIGKILLed in the middle of a minute, down two market minutes, started
    again; then the stream-gaps sensor's repair. Counted over the simulated day so far."""
    market = lab.market
    market.streams.drop_all()
    market.reset()
    symbols = COLLECTOR_SYMBOLS
    config, log = write_config(case.directory, symbols=symbols), case.directory / "stream.log"
    first = spawn_stream(market, lab.warehouse_url, config, log)
    try:
        streaming(lab.warehouse_url, market, symbols)
        wait_until(
            lambda: 20_000 <= market.clock.now_ms() % MINUTE <= 40_000, "the middle of a minute"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed = minute_of(market.clock.now_ms())
        wait_until(
            lambda: market.clock.now_ms() >= killed + 2 * MINUTE, "two minutes without a collector"
        )
        second = spawn_stream(market, lab.warehouse_url, config, log)
        try:
            streaming(lab.warehouse_url, market, symbols)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(15)
    finally:
        first.kill()
        first.wait()
    due_end, _ = repair_with_sensor(market, lab.warehouse_url, symbols, lab.instance)
    bans = market.limiter.bans_started()
    expected = [
        (symbol, *row)
        for symbol in symbols
        for row in rest_candles(market.url, symbol, DAY_START, due_end)
    ]
    stored = [
        (symbol, *row[:11]) if row[11] else (symbol, *row)  # an open row never matches
        for symbol in symbols
        for row in table_candles(lab.warehouse_url, symbol, DAY_START, due_end)
    ]
    lost, duplicates = compare(expected, stored)
    closed = {row[:2] for row in stored if len(row) == 12}
    holes = len({row[:2] for row in expected} - closed)
    return (
        f"SIGKILL mid-minute, {2} market minutes down, restarted",
        Counts(lost, duplicates, holes, lab.unfinished_runs(since), bans),
    )


SCENARIOS: dict[str, Callable[..., tuple[str, Counts]]] = {
    "5xx burst": five_xx_burst,
    "429 storm": _fault_after_symbol_check(
        {"throttle_next_n": 8},
        "throttle_next_n",
        lambda s: f"{s['429']} x 429 (7 unheeded in a window draw a ban)",
    ),
    "418 ban": four_eighteen,
    "connection resets": _fault_after_symbol_check(
        {"reset_next_n": 4}, "reset_next_n", lambda s: "4 connections reset"
    ),
    "truncated bodies": _fault_after_symbol_check(
        {"truncate_next_n": 2, "truncate_style": "json"},
        "truncate_next_n",
        lambda s: "2 JSON bodies cut in half",
    ),
    "PostgreSQL restart": postgres_restart,
    "run SIGKILLed": run_killed,
    "two backfills at once": two_backfills,
    "clear during a run": clear_during_run,
    "collector SIGKILLed": collector_killed,
}


def _fixed_clock(now: datetime) -> Callable[[], datetime]:
    """A sensor clock that always says ``now``."""
    return lambda: now
