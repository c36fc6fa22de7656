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
    sent_at = limiter.acquire(2)
    limiter.settle(2, sent_at, 88)  # another process on the same IP used the rest
    limiter.acquire(2)
    assert clock.slept == []  # 90 still fits the budget
    limiter.acquire(2)
    assert len(clock.slept) == 1


def test_header_never_lowers_the_estimate_and_other_windows_answers_are_ignored():
    limiter, clock = make()
    for _ in range(10):
        limiter.settle(2, limiter.acquire(2), None)
    limiter.settle(0, limiter.acquire(0), 4)  # a lower header than what this process has spent
    assert limiter.used == 20
    limiter.settle(0, clock.now - 10, 99)  # answer to a request of the previous window
    assert limiter.used == 20


def test_own_requests_still_in_flight_are_added_to_the_header():
    limiter, _ = make()
    first = limiter.acquire(2)
    limiter.acquire(2)
    limiter.acquire(2)
    limiter.settle(2, first, 50)  # the server had not counted the two others yet
    assert limiter.used == 54


def test_a_request_that_got_no_answer_is_no_longer_in_flight():
    limiter, _ = make()
    lost = limiter.acquire(2)
    limiter.settle(2, lost, None)  # connection dropped
    answered = limiter.acquire(2)
    limiter.settle(2, answered, 50)
    assert limiter.used == 50


def test_a_request_near_a_boundary_counts_in_both_windows():
    limiter, clock = make(start=1_009.9)  # 0.1 s before the window [1010, 1020) starts
    limiter.acquire(2)
    clock.now = 1_010.5
    assert limiter.used == 2


def test_just_after_a_boundary_the_previous_window_must_also_have_room():
    """The exchange may still count a request sent just after a boundary in the old window."""
    limiter, clock = make(start=1_005)
    limiter.settle(0, limiter.acquire(0), 88)  # window [1000, 1010) is nearly spent
    clock.now = 1_010.1  # within the clock error (0.25 s) of the boundary
    limiter.acquire(4)
    assert clock.slept and 1_010.25 <= clock.now <= 1_010.26
    assert limiter.used == 4


def test_an_answer_that_may_belong_to_either_window_is_not_used():
    limiter, clock = make(start=1_009.9)
    sent_at = limiter.acquire(2)
    clock.now = 1_009.95
    limiter.settle(2, sent_at, 80)
    clock.now = 1_010.5
    assert limiter.used == 2


def test_a_measured_clock_narrows_the_boundary_zone():
    limiter, clock = make(start=1_009.9)
    limiter.sync_clock(0.0, 0.01)
    sent_at = limiter.acquire(2)
    limiter.settle(2, sent_at, 80)  # certainly counted in [1000, 1010)
    assert limiter.used == 80
    clock.now = 1_010.5
    assert limiter.used == 0


def test_exchange_clock_offset_moves_the_windows():
    limiter, clock = make(start=1_009.0)
    limiter.sync_clock(2.0, 0.01)  # the exchange is 2 s ahead: it is 1011 there
    for _ in range(45):
        limiter.acquire(2)
    limiter.acquire(2)
    assert 1_018.0 <= clock.now <= 1_018.02  # 1020 on the exchange's clock


def test_retry_after_blocks_every_request():
    limiter, clock = make()
    limiter.block_for(3.0)
    limiter.acquire(2)
    assert sum(clock.slept) >= 3.0


def test_configure_from_exchange_info_reads_request_weight_rule():
    limiter, _ = make()
    limiter.configure_from_exchange_info(
        {
            "rateLimits": [
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 300000,
                },
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "SECOND",
                    "intervalNum": 6,
                    "limit": 600,
                },
            ]
        }
    )
    assert (limiter.limit, limiter.window_seconds, limiter.budget) == (600, 6, 540)
