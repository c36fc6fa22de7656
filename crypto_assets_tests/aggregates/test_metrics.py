"""market_metrics_daily for 2024-09-04 from the real 1m recording, against an independent computation."""

import itertools
import math
from decimal import Decimal as D

from crypto_assets_tests.aggregates.loading import fetch, load_candles, materialize, recorded_rows

PREVIOUS_CLOSE = "57000.50000000"


def previous_day_candle() -> list:
    """One 1m candle at 2024-09-03 23:59 UTC, so the 3rd has a close for the 4th's return."""
    open_ms = 1725407940000
    return [
        open_ms,
        "56990.00000000",
        "57010.00000000",
        "56980.00000000",
        PREVIOUS_CLOSE,
        "1.50000000",
        open_ms + 59_999,
        "85500.75000000",
        42,
        "0.70000000",
        "39900.35000000",
        "0",
    ]


def test_metrics_equal_an_independent_computation(db_url):
    rows = recorded_rows()
    load_candles(db_url, "candles_1m", [previous_day_candle(), *rows])
    for day in ("2024-09-03", "2024-09-04"):
        materialize(db_url, ["candles_1h", "candles_1d"], f"{day}|BTCUSDT")
    result = materialize(db_url, ["market_metrics_daily"], "2024-09-04|BTCUSDT")
    assert all(c.passed for c in result.get_asset_check_evaluations())
    (event,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert (event.materialization.partition, meta["rows"], meta["first_time"]) == (
        "2024-09-04|BTCUSDT",
        1,
        "2024-09-04",
    )

    (got,) = fetch(
        db_url,
        "SELECT open, close, previous_close, simple_return, log_return, realized_volatility,"
        " realized_volatility_annualized, range_pct, volume, quote_volume, trade_count, minutes_observed"
        " FROM market_metrics_daily WHERE day = '2024-09-04'",
    )
    closes = [D(r[4]) for r in rows]
    returns = [math.log(float(b) / float(a)) for a, b in itertools.pairwise(closes)]
    rv = math.sqrt(sum(r * r for r in returns))
    high, low, open_ = max(D(r[2]) for r in rows), min(D(r[3]) for r in rows), D(rows[0][1])
    previous = D(PREVIOUS_CLOSE)
    assert got[:3] == (open_, closes[-1], previous)
    assert math.isclose(got[3], float(closes[-1] / previous - 1), rel_tol=1e-12)
    assert math.isclose(got[4], math.log(float(closes[-1]) / float(previous)), rel_tol=1e-12)
    assert len(returns) == 999 and math.isclose(got[5], rv, rel_tol=1e-9)
    assert math.isclose(got[6], rv * math.sqrt(365), rel_tol=1e-9)
    assert math.isclose(got[7], float((high - low) / open_ * 100), rel_tol=1e-12)
    assert got[8:] == (
        sum(D(r[5]) for r in rows),
        sum(D(r[7]) for r in rows),
        sum(int(r[8]) for r in rows),
        1000,
    )


def test_first_day_has_no_previous_close(db_url):
    load_candles(db_url, "candles_1m", recorded_rows())
    materialize(db_url, ["candles_1h", "candles_1d"], "2024-09-04|BTCUSDT")
    materialize(db_url, ["market_metrics_daily"], "2024-09-04|BTCUSDT")
    assert fetch(
        db_url, "SELECT previous_close, simple_return, log_return FROM market_metrics_daily"
    ) == [(None, None, None)]
