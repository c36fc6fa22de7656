"""The weight limiter, as a pure unit with a fake clock (no network)."""

from crypto_assets.binance.limiter import WeightLimiter


class FakeClock:
    def __init__(self, now: float):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(limit=100, window=10, share=0.9, start=1_000.5):
    clock = FakeClock(start)
    return WeightLimiter(limit, window, share, clock=clock, sleep=clock.sleep), clock


def test_budget_is_share_of_limit_and_waits_for_next_window():
    limiter, clock = make()
    for _ in range(45):  # 45 x 2 = 90 = 0.9 x 100
        limiter.acquire(2)
    assert clock.slept == []
    limiter.acquire(2)
    assert len(clock.slept) == 1
    assert 1_010 <= clock.now <= 1_010.5  # woke at the next 10 s boundary (plus the skew margin)
    assert limiter.used == 2


def test_header_from_other_processes_raises_the_estimate():
    limiter, clock = make()
    limiter.acquire(2)
    limiter.observe(88, sent_at=clock.now)  # another process on the same IP used the rest
    limiter.acquire(2)
    assert clock.slept == []  # 90 still fits the budget
    limiter.acquire(2)
    assert len(clock.slept) == 1


def test_header_never_lowers_the_estimate_and_stale_answers_are_ignored():
    limiter, clock = make()
    for _ in range(10):
        limiter.acquire(2)
    limiter.observe(4, sent_at=clock.now)
    assert limiter.used == 20
    limiter.observe(99, sent_at=clock.now - 10)  # answer to a request of the previous window
    assert limiter.used == 20


def test_retry_after_blocks_every_request():
    limiter, clock = make()
    limiter.block_for(3.0)
    limiter.acquire(2)
    assert sum(clock.slept) >= 3.0


def test_configure_from_exchange_info_reads_request_weight_rule():
    limiter, _ = make()
    limiter.configure_from_exchange_info(
        {"rateLimits": [
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 300000},
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 6, "limit": 600},
        ]}
    )
    assert (limiter.limit, limiter.window_seconds, limiter.budget) == (600, 6, 540)
