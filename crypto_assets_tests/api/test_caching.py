"""Cache-Control by whether the range is closed, ETags, 304 for a client that asks again, and a
new ETag once the data changed."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg2
import pytest

from crypto_assets.api.caching import is_closed

HISTORY = {"interval": "1h", "start": "2025-03-08", "end": "2025-03-09"}


@pytest.mark.parametrize("fmt", ["json", "csv", "arrow", "parquet"])
def test_history_may_be_kept_and_asking_again_costs_a_304(fmt, client):
    params = {**HISTORY, "format": fmt}
    first = client.get("/v1/candles/BTCUSDT", params=params)
    assert first.status_code == 200 and first.headers["cache-control"] == "max-age=3600"
    etag = first.headers["etag"]
    assert etag.startswith('W/"' if fmt != "json" else '"')
    again = client.get("/v1/candles/BTCUSDT", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = client.get(
        "/v1/candles/BTCUSDT",
        params={**params, "end": "2025-03-10"},
        headers={"If-None-Match": etag},
    )
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_ranges_that_reach_today_must_be_revalidated(client):
    for params in (
        {"interval": "1h", "start": "2025-03-08"},
        {"interval": "1h", "end": "2999-01-01"},
    ):
        response = client.get("/v1/candles/BTCUSDT", params=params)
        assert response.headers["cache-control"] == "no-cache" and response.headers["etag"]
    for path in ("/v1/live/BTCUSDT", "/v1/health"):
        assert client.get(path).headers["cache-control"] == "no-store"


def test_closed_means_ending_by_todays_midnight():
    now = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)
    assert is_closed(datetime(2025, 3, 10, tzinfo=UTC), now)
    assert not is_closed(datetime(2025, 3, 10, 0, 1, tzinfo=UTC), now)
    assert not is_closed(None, now)
    assert is_closed(now - timedelta(days=400), now)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_changed_row_changes_the_etag(fmt, api_market, client):
    params = {**HISTORY, "format": fmt}
    before = client.get("/v1/candles/BTCUSDT", params=params)
    where = "symbol = 'BTCUSDT' AND open_time = '2025-03-08 05:00+00'"
    with contextlib.closing(psycopg2.connect(api_market.url)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT high FROM candles_1h WHERE {where}")
        ((high,),) = cur.fetchall()
        try:
            cur.execute(f"UPDATE candles_1h SET high = high + 0.01 WHERE {where}")
            conn.commit()
            after = client.get(
                "/v1/candles/BTCUSDT",
                params=params,
                headers={"If-None-Match": before.headers["etag"]},
            )
        finally:
            cur.execute(f"UPDATE candles_1h SET high = %s WHERE {where}", (high,))
            conn.commit()
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert str(high + Decimal("0.01")) in after.text and str(high) not in after.text
