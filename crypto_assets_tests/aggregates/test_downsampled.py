"""price_downsampled from real stream pushes (2021-09-14): exact medians for even and odd counts."""

import json
import statistics
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from decimal import Decimal as D

import psycopg2
import pytest

from crypto_assets.assets.downsampled import window_widths
from crypto_assets.settings import ConfigError
from crypto_assets_tests.aggregates.loading import FIXTURES, SETTINGS, fetch, materialize

PUSHES = FIXTURES / "ws_kline_BTCUSDT_5m_2021-09-14.jsonl"
SETTINGS_2021 = replace(SETTINGS, history_start=datetime(2021, 9, 1).date())


def load_samples(db_url) -> list[tuple[int, D]]:
    """Each real push's event time and last price as a price sample."""
    samples = [(p["E"], D(p["k"]["c"])) for p in map(json.loads, PUSHES.read_text().splitlines())]
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO price_samples (symbol, sampled_at, price) VALUES ('BTCUSDT', to_timestamp(%s / 1000.0), %s)",
            samples,
        )
    conn.close()
    return samples


def test_buckets_match_an_independent_computation_for_both_widths(db_url):
    samples = load_samples(db_url)
    result = materialize(
        db_url, ["price_downsampled"], "2021-09-14|BTCUSDT", settings=SETTINGS_2021
    )
    assert all(c.passed for c in result.get_asset_check_evaluations())

    stored = fetch(
        db_url,
        "SELECT extract(epoch FROM bucket_width)::int, (extract(epoch FROM bucket_start) * 1000)::bigint,"
        " avg_price, median_price, min_price, max_price, sample_count FROM price_downsampled ORDER BY 1, 2",
    )
    expected = []
    for width in (60, 300):
        buckets = defaultdict(list)
        for at_ms, price in samples:
            buckets[at_ms // (width * 1000) * width * 1000].append(price)
        for start, prices in sorted(buckets.items()):
            expected.append(
                (
                    width,
                    start,
                    sum(prices) / len(prices),
                    statistics.median(prices),
                    min(prices),
                    max(prices),
                    len(prices),
                )
            )
    assert [row[6] for row in expected] == [
        23,
        26,
        49,
    ]  # odd, even and odd counts, from real pushes
    assert len(stored) == len(expected)
    for got, want in zip(stored, expected, strict=True):
        assert got[:2] == want[:2]
        assert abs(got[2] - want[2]) < D("1e-10")  # an average is rounded by both sides
        assert got[3:] == want[3:]  # medians, min, max and counts exactly


def test_even_count_median_is_the_mean_of_the_two_middle_prices(db_url):
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        for second, price in enumerate(["10.00000001", "30.5", "20", "40.00000002"]):
            cur.execute(
                "INSERT INTO price_samples VALUES ('ETHUSDT', '2024-09-04 "
                "00:00:00+00'::timestamptz + %s * interval '1 second', %s)",
                (second, price),
            )
    conn.close()
    materialize(db_url, ["price_downsampled"], "2024-09-04|ETHUSDT")
    medians = fetch(db_url, "SELECT median_price FROM price_downsampled ORDER BY bucket_width")
    assert medians == [(D("25.25"),), (D("25.25"),)]


def test_rerun_replaces_the_day_without_duplicates(db_url):
    load_samples(db_url)
    for _ in range(2):
        materialize(db_url, ["price_downsampled"], "2021-09-14|BTCUSDT", settings=SETTINGS_2021)
    assert fetch(db_url, "SELECT count(*) FROM price_downsampled") == [(3,)]


def test_a_width_that_does_not_divide_a_day_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"downsample_windows\[1\].*7m"):
        window_widths(replace(SETTINGS, downsample_windows=("1m", "7m")))
