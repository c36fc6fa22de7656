"""Live page: last price and 24-hour change, the forming candle, the last hour, stream health."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import psycopg2

from crypto_assets_tests.dashboards.apptest import figures, metric, open_page, records, texts, trace
from crypto_assets_tests.plugins.postgres import new_database


def test_last_price_change_forming_candle_and_stream_health(seeded, use_database):
    use_database(seeded.url)
    market = seeded.market
    at = open_page("live", {"symbol": "ETHUSDT"})
    last_at, last_price = market.samples["ETHUSDT"][-1]
    day_ago = next(
        c for c in market.minutes["ETHUSDT"] if c.open_time == last_at - timedelta(hours=24)
    )
    price = metric(at, "Last price (USDT)")
    assert price.value == f"{round(last_price, 4):,.2f}"
    assert (
        price.delta == f"{(round(last_price, 4) / round(day_ago.close, 4) - 1) * 100:+.2f}% in 24 h"
    )

    forming = market.minutes["ETHUSDT"][-1]
    assert (
        metric(at, f"Forming 1m candle ({forming.open_time:%H:%M} UTC)").value
        == f"{round(forming.close, 4):,.2f}"
    )
    candles = trace(figures(at)[0], "ETHUSDT")
    assert len(candles["x"]) == 60  # the hour up to and including the forming minute
    assert candles["close"][-2] == round(market.minutes["ETHUSDT"][-2].close, 4)

    assert metric(at, "Reconnects").value == "1"
    assert metric(at, "Malformed messages dropped").value == "0"
    assert [r["connection_id"] for r in records(at.dataframe[0])] == ["conn-0"]
    assert dict(at.query_params) == {"symbol": "ETHUSDT"}


def one_candle_database(pg_server, name: str, *statements: str) -> str:
    """A database with one BTCUSDT candle (closing at 57,005) and ``statements`` run."""
    url = new_database(pg_server, name, migrate=True)
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO candles_1m VALUES ('BTCUSDT', '2024-09-04 10:00+00', '2024-09-04 10:00:59.999+00',"
            " 57000, 57010, 56990, 57005, 1.5, 85500, 40, 0.7, 39900, true, 'rest')"
        )
        for statement in statements:
            cur.execute(statement)
        conn.commit()
    return url


def test_without_heartbeats_the_stream_is_reported_down(pg_server, use_database):
    use_database(one_candle_database(pg_server, "dashboard_live_no_stream"))
    at = open_page("live")
    assert metric(at, "Last price (USDT)").value == "57,005.00"
    assert metric(at, "Last price (USDT)").delta == ""  # no candle a day earlier
    assert metric(at, "Forming 1m candle").value == "—"
    assert any("No collector heartbeat in the warehouse" in w for w in texts(at, "warning"))


def test_symbols_not_streaming_and_drops_by_reason_are_shown(pg_server, use_database):
    use_database(
        one_candle_database(
            pg_server,
            "dashboard_live_paused",
            "INSERT INTO stream_heartbeats (connection_id, streams, connected_at, last_message_at, malformed_count,"
            " dropped, not_streaming) VALUES"
            ' (\'kline_1m-0\', 1023, now(), now(), 2, \'{"bad k.c": 2, "buffer full: candle": '
            '5}\', \'{"ETHUSDT": "BREAK"}\'),'
            " ('kline_1m-1', 76, now(), now(), 1, '{\"bad k.c\": 1}', '{}')",
        )
    )
    at = open_page("live")
    assert metric(at, "Symbols not streaming").value == "1"
    assert metric(at, "Malformed messages dropped").value == "3"
    assert any("Not streaming: ETHUSDT (BREAK)." in w for w in texts(at, "warning"))
    assert any("1099 streams" in c for c in texts(at, "caption"))
    assert records(at.dataframe[1]) == [
        {"reason": "buffer full: candle", "count": 5},
        {"reason": "bad k.c", "count": 3},
    ]
