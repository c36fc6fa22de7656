"""Downsampled page on the seeded warehouse: raw samples against window averages and medians."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

import pytest

from crypto_assets_tests.dashboards.apptest import figures, open_page, texts, trace
from crypto_assets_tests.dashboards.seed import downsample


def _samples(seeded, symbol: str, span: timedelta) -> list[tuple[datetime, float]]:
    end = seeded.market.end
    return [(t, round(p, 4)) for t, p in seeded.market.samples[symbol] if end - span <= t <= end]


def test_last_hour_of_1m_windows_against_the_raw_band(seeded, use_database):
    use_database(seeded.url)
    at = open_page("downsampled")
    figure = figures(at)[0]
    samples = _samples(seeded, "BTCUSDT", timedelta(hours=1))
    windows = downsample(samples, timedelta(minutes=1))
    average = trace(figure, "Average, 1m windows")
    assert average["y"] == pytest.approx([statistics.fmean(ps) for _, ps in windows], abs=1e-6)
    median = trace(figure, "Median, 1m windows")
    assert median["y"] == pytest.approx([statistics.median(ps) for _, ps in windows], abs=1e-6)
    # 1,800 samples are more than the chart draws one by one: a min-max band per 10 s instead
    band = downsample(samples, timedelta(seconds=10))
    assert trace(figure, "Raw samples, min–max per 10s")["y"] == pytest.approx(
        [min(ps) for _, ps in band]
    )
    assert "USDT" in figure["layout"]["yaxis"]["title"]["text"]
    assert dict(at.query_params) == {"symbol": "BTCUSDT", "window": "1m", "span": "1h"}


def test_short_span_shows_every_raw_sample(seeded, use_database):
    use_database(seeded.url)
    at = open_page("downsampled", {"symbol": "SOLUSDT", "window": "5m", "span": "15m"})
    figure = figures(at)[0]
    samples = _samples(seeded, "SOLUSDT", timedelta(minutes=15))
    assert trace(figure, "Raw samples")["y"] == pytest.approx([p for _, p in samples])
    stored = downsample(
        [(t, round(p, 4)) for t, p in seeded.market.samples["SOLUSDT"]], timedelta(minutes=5)
    )
    in_span = [
        ps for t, ps in stored if t >= seeded.market.end - timedelta(minutes=15)
    ]  # windows starting in it
    assert trace(figure, "Average, 5m windows")["y"] == pytest.approx(
        [statistics.fmean(ps) for ps in in_span], abs=1e-6
    )
    caption = f"UTC: {len(samples):,} raw samples, {len(in_span)} windows."
    assert any(text.endswith(caption) for text in texts(at, "caption"))


def test_a_long_span_merges_windows_and_says_how(seeded, use_database):
    use_database(seeded.url)
    at = open_page("downsampled", {"span": "7d"})
    figure = figures(at)[0]
    samples = [(t, round(p, 4)) for t, p in seeded.market.samples["BTCUSDT"]]
    merged = downsample(samples, timedelta(minutes=30))
    average = trace(figure, "Average, 1m windows (merged to 30m)")
    assert average["y"] == pytest.approx([statistics.fmean(ps) for _, ps in merged], rel=1e-9)
    assert trace(figure, "Median of window medians")["type"] == "scatter"
    # the raw band over a week comes from the windows' min and max: still the samples' extremes
    assert trace(figure, "Raw samples, min–max per 30m")["y"] == pytest.approx(
        [min(ps) for _, ps in merged]
    )


def test_an_unknown_window_in_the_url_is_reported(seeded, use_database):
    use_database(seeded.url)
    at = open_page("downsampled", {"window": "7m"})
    assert any("`window=7m`" in w and "1m, 5m" in w for w in texts(at, "warning"))
    assert trace(figures(at)[0], "Average, 1m windows")
