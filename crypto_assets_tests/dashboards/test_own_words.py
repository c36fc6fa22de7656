"""The dashboard's own words are true: chart titles name the window width really drawn, and the
fill-it hints name the range on screen, not a fixed January 2024."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from crypto_assets_tests.dashboards.apptest import figures, open_page, texts
from crypto_assets_tests.plugins.postgres import new_database

TODAY = datetime.now(UTC).date()


def title(at) -> str:
    return figures(at)[0]["layout"]["title"]["text"]


def hints(at) -> list[str]:
    return [line for code in at.code for line in code.value.splitlines()]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"window": "5m", "span": "1h"}, "BTCUSDT · raw price vs 5m window average and median"),
        ({"window": "1m", "span": "15m"}, "BTCUSDT · raw price vs 1m window average and median"),
        # a week of 1m windows is drawn as 30m buckets of them: the title says so
        (
            {"window": "1m", "span": "7d"},
            "BTCUSDT · raw price vs 1m window average and median (merged to 30m)",
        ),
    ],
)
def test_the_downsampled_title_names_the_width_drawn(seeded, use_database, query, expected):
    use_database(seeded.url)
    assert title(open_page("downsampled", query)) == expected


@pytest.fixture(scope="module")
def samples_only(pg_server) -> str:
    """BTCUSDT price samples from 2024-05-10 11:00 to 12:00 UTC, and no windows yet."""
    url = new_database(pg_server, "dashboard_samples_only", migrate=True)
    start = datetime(2024, 5, 10, 11, tzinfo=UTC)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO price_samples (symbol, sampled_at, price) VALUES ('BTCUSDT', %s, %s)",
            [(start + timedelta(seconds=10 * i), 61_000 + i) for i in range(361)],
        )
    return url


def test_samples_without_windows_say_so_and_hint_at_their_own_day(samples_only, use_database):
    use_database(samples_only)
    at = open_page("downsampled")
    assert title(at) == "BTCUSDT · raw price samples (no windows yet)"
    assert [t["name"] for t in figures(at)[0]["data"]] == ["Raw samples"]
    assert (
        "crypto backfill price_downsampled --start 2024-05-10 --end 2024-05-10 --symbols BTCUSDT"
        in hints(at)
    )


@pytest.fixture(scope="module")
def candles_15m_only(pg_server) -> str:
    """A day of BTCUSDT 15m candles (2024-03-05) and nothing in candles_1d yet."""
    url = new_database(pg_server, "dashboard_15m_only", migrate=True)
    day = datetime(2024, 3, 5, tzinfo=UTC)
    rows = [
        (
            "BTCUSDT",
            day + timedelta(minutes=15 * i),
            day + timedelta(minutes=15 * i + 15) - timedelta(milliseconds=1),
            "100",
            "101",
            "99",
            "100.5",
            "2",
            "201",
            10,
            "1",
            "100.5",
        )
        for i in range(96)
    ]
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO candles_15m (symbol, open_time, close_time, open, high, low, close, volume, quote_volume,"
            " trade_count, taker_buy_base_volume, taker_buy_quote_volume) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            rows,
        )
    return url


def test_the_market_1d_hint_fills_the_selected_range(candles_15m_only, use_database):
    use_database(candles_15m_only)
    at = open_page(
        "market",
        {"symbol": "BTCUSDT", "interval": "1d", "start": "2024-03-01", "end": "2024-03-10"},
    )
    assert any(
        "No 1d candles for BTCUSDT from 2024-03-01 to 2024-03-10" in t for t in texts(at, "info")
    )
    assert (
        "crypto backfill candles_1d --start 2024-03-01 --end 2024-03-10 --symbols BTCUSDT"
        in hints(at)
    )


def test_an_empty_warehouse_hints_at_the_days_each_page_shows_first(empty_url, use_database):
    use_database(empty_url)
    expected = {
        "market": f"crypto backfill candles_15m --start {TODAY - timedelta(days=6)} --end {TODAY}",
        "downsampled": f"crypto backfill price_downsampled --start {TODAY} --end {TODAY}",
        "volatility": f"crypto backfill market_metrics_daily --start {TODAY - timedelta(days=179)} --end {TODAY}",
        "health": f"crypto backfill candles_15m --start {TODAY - timedelta(days=6)} --end {TODAY}",  # its 7-day default
    }
    for page, hint in expected.items():
        assert hint in hints(open_page(page)), page
