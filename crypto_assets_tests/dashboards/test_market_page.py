"""Market page on the seeded warehouse: candles, averages, VWAP, comparison, URL state."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from crypto_assets_tests.dashboards.apptest import figures, open_page, texts, trace

M15, H1 = timedelta(minutes=15), timedelta(hours=1)


def _midnight(day) -> datetime:
    return datetime.combine(day, time(), UTC)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000000")


def test_default_view_is_the_last_week_of_15m_candles_with_averages_and_vwap(seeded, use_database):
    use_database(seeded.url)
    market = seeded.market
    at = open_page("market")
    lo = _midnight(market.end.date() - timedelta(days=6))
    expected = [c for c in market.rollups[("BTCUSDT", M15)] if c.open_time >= lo]

    candles = trace(figures(at)[0], "BTCUSDT")
    assert candles["type"] == "candlestick"
    assert candles["x"][0] == _iso(expected[0].open_time) and candles["x"][-1] == _iso(
        expected[-1].open_time
    )
    assert len(candles["x"]) == len(expected)
    assert candles["close"][-1] == pytest.approx(round(expected[-1].close, 4))
    assert candles["high"][0] == pytest.approx(round(expected[0].high, 4))

    closes = [round(c.close, 4) for c in market.rollups[("BTCUSDT", M15)]]
    assert trace(figures(at)[0], "MA 20")["y"][-1] == pytest.approx(sum(closes[-20:]) / 20)
    vwap = sum(round(c.quote_volume, 6) for c in expected) / sum(
        round(c.volume, 6) for c in expected
    )
    assert trace(figures(at)[0], "VWAP (from range start)")["y"][-1] == pytest.approx(
        vwap, rel=1e-9
    )

    layout = figures(at)[0]["layout"]
    assert "BTCUSDT · 15m candles" in layout["title"]["text"]
    assert layout["yaxis"]["title"]["text"] == "Price (USDT)"
    assert layout["yaxis2"]["title"]["text"] == "Volume (BTC)"
    assert layout["xaxis2"]["title"]["text"] == "Time (UTC)"
    assert dict(at.query_params) == {
        "symbol": "BTCUSDT",
        "interval": "15m",
        "start": str(lo.date()),
        "end": str(market.end.date()),
        "ma": "20,50",
        "vwap": "1",
        "compare": "",
    }


def test_selection_comes_from_the_url(seeded, use_database):
    use_database(seeded.url)
    day = seeded.market.end.date() - timedelta(days=3)
    query = {
        "symbol": "ETHUSDT",
        "interval": "1h",
        "start": str(day),
        "end": str(day),
        "ma": "7",
        "vwap": "0",
    }
    at = open_page("market", query)
    expected = [c for c in seeded.market.rollups[("ETHUSDT", H1)] if c.open_time.date() == day]
    figure = figures(at)[0]
    assert "ETHUSDT · 1h candles" in figure["layout"]["title"]["text"]
    assert trace(figure, "ETHUSDT")["open"] == pytest.approx([round(c.open, 4) for c in expected])
    assert [t["name"] for t in figure["data"]] == ["ETHUSDT", "MA 7", "Volume (ETH)"]
    assert {k: at.query_params[k] for k in query} == query


def test_a_long_1m_range_is_merged_in_the_database_from_the_hourly_rollup(seeded, use_database):
    use_database(seeded.url)
    market = seeded.market
    first_day = market.minutes["BTCUSDT"][0].open_time.date()
    at = open_page(
        "market",
        {"interval": "1m", "start": str(first_day), "end": str(market.end.date()), "ma": ""},
    )
    candles = trace(figures(at)[0], "BTCUSDT")
    hours = market.rollups[("BTCUSDT", H1)]
    assert len(candles["x"]) == len(hours) <= 2000
    middle = hours[len(hours) // 2]
    at_middle = candles["x"].index(_iso(middle.open_time))
    assert [candles[k][at_middle] for k in ("open", "high", "low", "close")] == pytest.approx(
        [round(v, 4) for v in (middle.open, middle.high, middle.low, middle.close)]
    )
    assert any("1h of 1m data" in c and "candles_1h" in c for c in texts(at, "caption"))
    assert any(c.startswith(f"{len(hours):,} candles, each") for c in texts(at, "caption"))


def test_compared_symbols_are_normalised_to_100_at_the_first_close(seeded, use_database):
    use_database(seeded.url)
    market = seeded.market
    at = open_page("market", {"compare": "ETHUSDT,SOLUSDT"})
    lines = figures(at)[1]
    assert [t["name"] for t in lines["data"]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    lo = _midnight(market.end.date() - timedelta(days=6))
    for line in lines["data"]:
        # three lines share the 2,000-point budget: 7 days of quarter hours (672) become half hours
        half_hours: dict[datetime, float] = {}
        for c in market.rollups[(line["name"], M15)]:
            if c.open_time >= lo:
                half_hours[c.open_time.replace(minute=c.open_time.minute // 30 * 30)] = round(
                    c.close, 4
                )
        closes = list(half_hours.values())
        assert len(line["y"]) == len(closes)
        assert line["y"][0] == pytest.approx(100)
        assert line["y"][-1] == pytest.approx(closes[-1] / closes[0] * 100)


def test_unknown_symbol_and_bad_date_in_the_url_are_reported_and_replaced(seeded, use_database):
    use_database(seeded.url)
    at = open_page("market", {"symbol": "DOGEUSDT", "start": "2024-13-01"})
    warnings = " ".join(texts(at, "warning"))
    assert "`symbol=DOGEUSDT`" in warnings and "BTCUSDT, ETHUSDT, SOLUSDT" in warnings
    assert "`start=2024-13-01`" in warnings and "not a date" in warnings
    assert trace(figures(at)[0], "BTCUSDT")["type"] == "candlestick"
    assert at.query_params["symbol"] == "BTCUSDT"


def test_a_range_without_data_says_so(seeded, use_database):
    use_database(seeded.url)
    at = open_page("market", {"start": "2020-01-01", "end": "2020-01-07"})
    assert not figures(at)
    assert "No 15m candles for BTCUSDT from 2020-01-01 to 2020-01-07 (UTC)." in texts(at, "info")
