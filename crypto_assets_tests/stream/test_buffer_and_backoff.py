"""The collector's pending rows (dedup, thinning, bound, retry, drops), its reconnect pacing and its throttled log."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from crypto_assets.binance.stream_backoff import Backoff, ConnectionBudget
from crypto_assets.binance.stream_wire import KlineEvent
from crypto_assets.binance.throttled_log import ThrottledLog
from crypto_assets.binance.wire import Kline
from crypto_assets.stream.buffer import PendingRows

MINUTE = 60_000
T0 = 1_741_564_800_000  # 2025-03-10 00:00 UTC


def push(
    symbol: str, open_time: int, event_ms: int, close: str = "1.50000000", closed: bool = False
) -> KlineEvent:
    kline = Kline(
        open_time,
        "1.00000000",
        "2.00000000",
        "0.50000000",
        close,
        "10.00000000",
        open_time + MINUTE - 1,
        "15.00000000",
        7,
        "5.00000000",
        "7.50000000",
    )
    return KlineEvent(symbol, event_ms, kline, closed)


def test_pushes_of_one_minute_collapse_to_the_newest_and_samples_are_thinned():
    rows = PendingRows(capacity=100, sampling_interval_ms=10_000)
    for second in range(0, 60, 2):
        rows.add(push("BTCUSDT", T0, T0 + second * 1000, close=f"1.{second:08d}"))
    rows.add(push("BTCUSDT", T0, T0 + MINUTE, close="1.99999999", closed=True))
    batch = rows.take()
    assert list(batch.candles) == [("BTCUSDT", T0)]
    assert batch.candles["BTCUSDT", T0].endswith(
        "\t1.99999999\t10.00000000\t15.00000000\t7\t5.00000000\t7.50000000\tt\tstream\n"
    )
    assert [line.split("\t")[1][11:19] for line in batch.samples] == [
        "00:00:00",
        "00:00:10",
        "00:00:20",
        "00:00:30",
        "00:00:40",
        "00:00:50",
        "00:01:00",
    ]
    assert len(rows) == 0


def test_sampling_resumes_where_the_table_ends():
    rows = PendingRows(capacity=100, sampling_interval_ms=10_000)
    rows.resume_sampling({"BTCUSDT": T0 + 4_000})
    rows.add(push("BTCUSDT", T0, T0 + 8_000))  # same 10 s bucket as the stored sample
    rows.add(push("BTCUSDT", T0, T0 + 10_000))
    assert len(rows.take().samples) == 1


def test_a_failed_batch_goes_back_under_newer_pushes():
    rows = PendingRows(capacity=100, sampling_interval_ms=2_000)
    rows.add(push("BTCUSDT", T0, T0 + 2_000, close="1.00000001"))
    failed = rows.take()
    rows.add(push("BTCUSDT", T0, T0 + 4_000, close="1.00000002"))
    rows.restore(failed)
    batch = rows.take()
    assert len(batch.candles) == 1 and "\t1.00000002\t" in batch.candles["BTCUSDT", T0]
    assert [line.split("\t")[2] for line in batch.samples] == ["1.00000001\n", "1.00000002\n"]


def test_a_full_buffer_drops_the_oldest_candles_first():
    rows = PendingRows(capacity=6, sampling_interval_ms=1)
    for minute in range(4):
        rows.add(push("BTCUSDT", T0 + minute * MINUTE, T0 + minute * MINUTE))
    # 4 candles + 4 samples = 8 > 6: the two oldest candles went (REST refills those minutes).
    assert (rows.dropped_candles, rows.dropped_samples) == (2, 0)
    batch = rows.take()
    assert (
        list(batch.candles) == [("BTCUSDT", T0 + 2 * MINUTE), ("BTCUSDT", T0 + 3 * MINUTE)]
        and len(batch.samples) == 4
    )


def test_samples_are_dropped_only_when_no_candle_is_left():
    rows = PendingRows(capacity=3, sampling_interval_ms=1)
    for second in range(4):  # one minute's pushes: one candle, a sample each
        rows.add(push("BTCUSDT", T0, T0 + second * 1000))
    # The 3rd push overflowed: the candle went; the 4th brought it back, and it went first
    # again before the oldest sample did.
    assert (rows.dropped_candles, rows.dropped_samples) == (2, 1)
    batch = rows.take()
    assert not batch.candles and [line.split("\t")[1][17:19] for line in batch.samples] == [
        "01",
        "02",
        "03",
    ]


def test_backoff_is_jittered_below_a_doubling_ceiling_and_resets():
    backoff = Backoff(base_s=0.5, cap_s=4.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.next_delay() <= 0.5
    with pytest.raises(ValueError, match="base_s"):
        Backoff(base_s=0)


def test_the_connection_budget_allows_300_attempts_per_5_minutes():
    now = [0.0]
    budget = ConnectionBudget(clock=lambda: now[0])
    for _ in range(300):
        assert budget.wait_s() == 0
        budget.take()
    assert budget.wait_s() == pytest.approx(300.0)
    now[0] = 299.0
    assert budget.wait_s() == pytest.approx(1.0)
    now[0] = 300.0
    assert budget.wait_s() == 0


def test_acquire_gives_up_when_stopping():
    budget = ConnectionBudget(limit=1, window_s=60)

    async def run() -> tuple[bool, bool]:
        stop = asyncio.Event()
        first = await budget.acquire(stop)
        stop.set()
        return first, await budget.acquire(stop)

    assert asyncio.run(run()) == (True, False)


def test_a_final_push_is_not_replaced_by_a_late_forming_one():
    rows = PendingRows(capacity=100, sampling_interval_ms=2_000)
    rows.add(
        push("BTCUSDT", T0, T0 + MINUTE, close="1.00000009", closed=True)
    )  # from the new connection
    rows.add(push("BTCUSDT", T0, T0 + 58_000, close="1.00000008"))  # the old one, a little behind
    assert (
        rows.take()
        .candles["BTCUSDT", T0]
        .endswith("\t1.00000009\t10.00000000\t15.00000000\t7\t5.00000000\t7.50000000\tt\tstream\n")
    )


def test_every_overflow_drop_is_reported_with_its_symbol():
    drops = []
    rows = PendingRows(
        capacity=3,
        sampling_interval_ms=1,
        on_drop=lambda symbol, what: drops.append((symbol, what)),
    )
    rows.add(push("BTCUSDT", T0, T0))
    rows.add(push("ETHUSDT", T0, T0 + 1))  # 4 rows: BTCUSDT's candle goes
    rows.add(push("ETHUSDT", T0, T0 + 2))  # a sample more: ETHUSDT's candle goes, then it is back
    assert drops == [("BTCUSDT", "candle"), ("ETHUSDT", "candle")]
    assert (rows.dropped_candles, rows.dropped_samples) == (2, 0)


def test_the_throttled_log_says_each_reason_once_a_minute_and_counts_the_rest(caplog):
    now = [0.0]
    throttled = ThrottledLog(logging.getLogger("throttled-test"), every_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="throttled-test"):
        assert throttled.warning("bad k.c", "dropped %s", "one")
        assert not throttled.warning("bad k.c", "dropped %s", "two")
        assert throttled.warning(
            "not JSON", "dropped %s", "three"
        )  # another reason is said at once
        now[0] = 59.9
        assert not throttled.warning("bad k.c", "dropped %s", "four")
        now[0] = 60.0
        assert throttled.warning("bad k.c", "dropped %s", "five")
    assert [r.getMessage() for r in caplog.records] == [
        "dropped one",
        "dropped three",
        "dropped five (and 2 more of this kind since the last such line)",
    ]
