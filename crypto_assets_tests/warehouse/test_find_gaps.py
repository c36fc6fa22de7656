"""``find_gaps``: the runs of missing grid slots a load reports (never fills)."""

from crypto_assets.warehouse.candles import find_gaps

M = 60_000  # one minute


def test_missing_slots_become_runs_and_off_grid_candles_hold_their_slot():
    # ten 1m slots; present: 0, 1, 4, 5 (a candle cut short at 5:30), 9
    times = [0, M, 4 * M, 5 * M + 30_000, 9 * M]
    assert find_gaps(times, 0, 10 * M, M) == [(2 * M, 2), (6 * M, 3)]


def test_order_duplicates_and_times_outside_the_window_do_not_matter():
    times = [9 * M, -M, 0, 4 * M, 0, 12 * M, M, 5 * M]
    assert find_gaps(times, 0, 10 * M, M) == [(2 * M, 2), (6 * M, 3)]


def test_an_empty_window_is_one_gap_and_a_full_one_none():
    assert find_gaps([], 3 * M, 7 * M, M) == [(3 * M, 4)]
    assert find_gaps([3 * M, 4 * M, 5 * M, 6 * M], 3 * M, 7 * M, M) == []


def test_a_window_ending_inside_a_slot_still_expects_that_slot():
    # 15m grid, window cut 5 minutes into its third slot: three slots expected, the last absent
    assert find_gaps([0, 15 * M], 0, 35 * M, 15 * M) == [(30 * M, 1)]
