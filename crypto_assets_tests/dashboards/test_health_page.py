"""Data health page: table sizes, spans, freshness and gaps; Dagster's materializations and checks."""

from __future__ import annotations

from crypto_assets_tests.dashboards.apptest import open_page, records, table_with, texts


def _overview(at) -> dict[str, dict]:
    return {row["table"].rsplit("/", 1)[-1]: row for row in records(at.dataframe[0])}


def test_tables_rows_spans_and_the_seeded_gap(seeded, use_database):
    use_database(seeded.url)
    market = seeded.market
    at = open_page("health")
    tables = _overview(at)
    assert list(tables) == [
        "candles_1m",
        "price_samples",
        "candles_15m",
        "candles_1h",
        "candles_1d",
        "price_downsampled",
        "market_metrics_daily",
    ]
    minutes = sum(len(m) for m in market.minutes.values())
    assert tables["candles_1m"]["rows"] == f"{minutes:,}"
    assert tables["candles_1m"]["table"] == "http://dagster.example:3000/assets/candles_1m"
    assert tables["candles_1m"]["last"] == market.end
    assert (
        tables["candles_1m"]["missing"] == market.gap[2]
    )  # 5 minutes cut out six hours before the end
    assert tables["candles_15m"]["missing"] == 0
    assert tables["price_samples"]["missing"] is None  # samples have no fixed cadence
    assert tables["candles_1d"]["status"] == "fresh"
    assert tables["price_downsampled"]["rows"] == f"{sum(at_ for at_ in _window_counts(market)):,}"

    gaps = [e for e in at.expander if e.label.startswith("candles_1m")]
    assert gaps[0].label == "candles_1m: 3 series, 5 missing"
    series = {r["series"]: r for r in records(gaps[0].dataframe[0])}
    assert series[market.gap[0]]["missing"] == 5 and series["ETHUSDT"]["missing"] == 0
    assert dict(at.query_params) == {"window": "7d"}


def _window_counts(market):
    from crypto_assets_tests.dashboards.seed import WINDOWS, downsample

    return [
        len(downsample(samples, width)) for samples in market.samples.values() for width in WINDOWS
    ]


def test_without_dagster_the_tables_still_show_and_the_page_says_why(seeded, use_database):
    use_database(seeded.url)
    at = open_page("health")
    assert _overview(at)
    assert any(
        i.startswith(
            "Materializations and check results are not shown: the Dagster webserver at http://127.0.0.1:"
        )
        for i in texts(at, "info")
    )


def test_latest_materializations_and_checks_link_into_dagster(
    seeded, use_database, dagster_graphql
):
    use_database(seeded.url, dagster_graphql)
    at = open_page("health")
    assets = {r["asset"]: r for r in table_with(at, "asset")}
    candles = assets["http://dagster.example:3000/assets/candles_1m"]
    assert candles["partitions"] == "2 / 3"
    assert candles["partition"] == "2024-01-02|BTCUSDT"
    assert candles["run"].startswith("http://dagster.example:3000/runs/")
    never = assets["http://dagster.example:3000/assets/market_metrics_daily"]
    assert never["materialized"] is None and never["partitions"] == "—"
    checks = {r["check"].rsplit("#", 1)[-1]: r for r in table_with(at, "check")}
    assert (
        checks["ohlc_invariants"]["result"] == "passed"
        and checks["ohlc_invariants"]["severity"] is None
    )
    assert checks["gaps_reported"]["result"] == "failed"
    assert checks["gaps_reported"]["severity"] == "WARN"
    assert checks["gaps_reported"]["detail"] == "5 minutes missing"
    assert (
        checks["gaps_reported"]["check"]
        == "http://dagster.example:3000/assets/candles_1m?view=checks#gaps_reported"
    )
