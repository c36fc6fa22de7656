"""The ``runs`` service of ``crypto up``: one line per Dagster run on the terminal.

``python -m crypto_assets.run_feed`` follows the instance at ``DAGSTER_HOME`` (every second):
a run that starts, what it logs as progress (the assets' ``42% (...)`` lines) or at WARNING and
above (retries, symbols that failed), and how it ends: done with its rows per symbol, or failed
with the root cause. Dagster's own per-event lines stay in the UI and in the daemon's log file.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from crypto_assets.run_report import failure_reason, rows_per_symbol

POLL_S = 1.0
READY_LINE = "following Dagster runs (one line each; every event is in the Dagster UI)"
_PROGRESS = re.compile(r"^\d+% \(")


def _level(level: int | str) -> int:
    """A log entry's level as a number (Dagster's entries hold a number or its name)."""
    return level if isinstance(level, int) else logging.getLevelNamesMapping().get(level.upper(), 0)


_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_ORIGIN_TAGS = (
    ("dagster/sensor_name", "sensor"),
    ("dagster/schedule_name", "schedule"),
    ("dagster/backfill", "backfill"),
    ("crypto/backfill", "crypto backfill"),
)


@dataclass
class _Followed:
    """A run being followed: where its event log was read up to, and the events kept for its summary."""

    cursor: str | None = None
    events: list[dg.DagsterEvent] = field(default_factory=list)


def describe(run: dg.DagsterRun) -> str:
    """'candles_15m 2024-01-01|BTCUSDT..2024-01-20|BTCUSDT (sensor candles_15m_catch_up)'."""
    assets = (
        ", ".join(sorted(key.to_user_string() for key in run.asset_selection or ())) or run.job_name
    )
    tags = run.tags
    if "dagster/asset_partition_range_start" in tags:
        partitions = f" {tags['dagster/asset_partition_range_start']}..{tags['dagster/asset_partition_range_end']}"
    elif "dagster/partition" in tags:
        partitions = f" {tags['dagster/partition']}"
    else:
        partitions = ""
    origin = next((f" ({kind} {tags[tag]})" for tag, kind in _ORIGIN_TAGS if tag in tags), "")
    return f"{assets}{partitions}{origin}"


class RunFeed:
    """Turns the instance's run records and run logs into terminal lines, one ``poll`` at a time."""

    def __init__(self, instance: dg.DagsterInstance, since: datetime):
        self._instance = instance
        self._since = since
        self._status: dict[str, dg.DagsterRunStatus] = {}
        self._followed: dict[str, _Followed] = {}

    def poll(self) -> list[str]:
        """Lines for what happened since the last poll, in order."""
        lines: list[str] = []
        records = self._instance.get_run_records(
            filters=dg.RunsFilter(updated_after=self._since),
            order_by="update_timestamp",
            ascending=True,
        )
        for record in records:
            self._since = max(self._since, record.update_timestamp)
            run = record.dagster_run
            if self._status.get(run.run_id) == run.status:
                continue
            self._status[run.run_id] = run.status
            name = f"run {run.run_id[:8]}"
            if run.status == dg.DagsterRunStatus.STARTED:
                self._followed.setdefault(run.run_id, _Followed())
                lines.append(f"{name} started: {describe(run)}")
            elif run.status in _FINISHED:
                followed = self._followed.pop(run.run_id, _Followed())
                lines.extend(self._read(run.run_id, followed))
                lines.append(self._ending(name, record, run, followed.events))
        for run_id, followed in self._followed.items():
            lines.extend(self._read(run_id, followed))
        return [f"{time.strftime('%H:%M:%S')} {line}" for line in lines]

    def _read(self, run_id: str, followed: _Followed) -> list[str]:
        """The run's new progress and warning lines; keeps the events its summary needs."""
        lines = []
        while True:
            page = self._instance.get_records_for_run(run_id, cursor=followed.cursor, limit=1000)
            for record in page.records:
                entry = record.event_log_entry
                event = entry.dagster_event
                if event is None:
                    if _level(entry.level) >= logging.WARNING or _PROGRESS.match(
                        entry.user_message
                    ):
                        lines.append(f"run {run_id[:8]}: {entry.user_message}")
                elif (
                    event.is_step_materialization
                    or event.is_step_failure
                    or event.event_type == dg.DagsterEventType.RUN_FAILURE
                ):
                    followed.events.append(event)
            followed.cursor = page.cursor
            if not page.has_more:
                return lines

    @staticmethod
    def _ending(
        name: str, record: dg.RunRecord, run: dg.DagsterRun, events: list[dg.DagsterEvent]
    ) -> str:
        took = (
            f" in {record.end_time - record.start_time:.1f} s"
            if record.start_time and record.end_time
            else ""
        )
        if run.status == dg.DagsterRunStatus.SUCCESS:
            rows = rows_per_symbol(events)
            written = (
                "rows " + ", ".join(f"{symbol} {count:,}" for symbol, count in rows.items())
                if rows
                else "no rows"
            )
            return f"{name} done{took}: {describe(run)}; {written}"
        if run.status == dg.DagsterRunStatus.CANCELED:
            return f"{name} canceled{took}: {describe(run)}"
        return f"{name} FAILED{took}: {describe(run)}: {failure_reason(events)}"


def main() -> int:
    """Follow the runs of the instance at ``DAGSTER_HOME`` until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with dg.DagsterInstance.get() as instance:
        feed = RunFeed(instance, since=datetime.now(UTC))
        print(READY_LINE, flush=True)
        failing = False
        while not stop.wait(POLL_S):
            try:
                lines = feed.poll()
            except Exception as err:  # noqa: BLE001 - the database restarting, say: said once, keep following
                if not failing:
                    print(
                        f"{time.strftime('%H:%M:%S')} runs: cannot read the Dagster instance ({type(err).__name__});"
                        " retrying every second",
                        flush=True,
                    )
                failing = True
                continue
            failing = False
            for line in lines:
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
