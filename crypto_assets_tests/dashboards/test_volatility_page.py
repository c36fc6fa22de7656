"""Volatility page on the seeded warehouse: rolling realized volatility, returns, daily range."""

from __future__ import annotations

import math

import pytest

from crypto_assets_tests.dashboards.apptest import figures, open_page, texts, trace
from crypto_assets_tests.dashboards.seed import daily_metrics


def _rolling(seeded, symbol: str, days: int) -> float:
    """Annualized rolling realized volatility (%) of the newest ``days`` days: root mean square."""
    recent = daily_metrics(seeded.market.minutes[symbol])[-days:]
    return (
        math.sqrt(sum((m.realized_volatility * math.sqrt(365)) ** 2 for m in recent) / days) * 100
    )


def test_default_view_compares_two_symbols_over_30_day_windows(seeded, use_database):
    use_database(seeded.url)
    at = open_page("volatility")
    rolling, returns, ranges = figures(at)
    assert [t["name"] for t in rolling["data"]] == ["BTCUSDT", "ETHUSDT"]
    assert trace(rolling, "BTCUSDT")["y"][-1] == pytest.approx(
        _rolling(seeded, "BTCUSDT", 30), rel=1e-8
    )
    # the first full window ends on the 30th seeded day
    assert (
        len(trace(rolling, "ETHUSDT")["y"])
        == len(daily_metrics(seeded.market.minutes["ETHUSDT"])) - 29
    )
    assert rolling["layout"]["yaxis"]["title"]["text"] == "Volatility (% per year)"

    days = daily_metrics(seeded.market.minutes["BTCUSDT"])
    assert sum(trace(returns, "BTCUSDT")["y"]) == sum(1 for m in days if m.log_return is not None)
    assert returns["layout"]["xaxis"]["title"]["text"] == "Daily log return (%)"
    assert trace(ranges, "BTCUSDT")["y"] == pytest.approx([m.range_pct for m in days], rel=1e-8)

    summary = at.dataframe[0].value
    assert summary["Symbol"].to_list() == ["BTCUSDT", "ETHUSDT"]
    assert summary["Days"].to_list() == [
        len(days),
        len(daily_metrics(seeded.market.minutes["ETHUSDT"])),
    ]


def test_window_and_symbol_from_the_url(seeded, use_database):
    use_database(seeded.url)
    at = open_page("volatility", {"symbols": "SOLUSDT", "window": "7"})
    rolling = figures(at)[0]
    assert rolling["layout"]["title"]["text"] == "Rolling 7-day realized volatility, annualized"
    assert trace(rolling, "SOLUSDT")["y"][-1] == pytest.approx(
        _rolling(seeded, "SOLUSDT", 7), rel=1e-8
    )


def test_no_symbol_chosen_asks_for_one(seeded, use_database):
    use_database(seeded.url)
    at = open_page("volatility", {"symbols": ""})
    assert not figures(at)
    assert "Choose at least one symbol." in texts(at, "info")


def test_a_range_without_metrics_says_how_to_fill_it(seeded, use_database):
    use_database(seeded.url)
    at = open_page("volatility", {"start": "2021-01-01", "end": "2021-03-31"})
    assert not figures(at)
    assert "No daily metrics for BTCUSDT, ETHUSDT from 2021-01-01 to 2021-03-31." in texts(
        at, "info"
    )
    assert any(
        "crypto backfill market_metrics_daily --start 2021-01-01 --end 2021-03-31 --symbols BTCUSDT,ETHUSDT"
        in c.value
        for c in at.code
    )
