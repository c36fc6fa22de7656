"""The Binance simulator over real HTTP, checked against Binance's documented behaviour.

Expected values come from the exchange's documentation (binance-api.md: pagination, weights,
error codes, 429/418), from the recorded responses in ``fixtures/`` and from the listing
times the simulator promises; never from the simulator's own output.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from crypto_assets.binance.simulator import SimClock, SimulatorServer

FIXTURES = Path(__file__).parent.parent / "fixtures"
MINUTE = 60_000
DAY = 86_400_000
DECIMAL = re.compile(r"^\d+\.\d{8}$")
BTC_LISTED = 1502942400000  # 2017-08-17 04:00 UTC


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


# A synthetic instant (no recording near it), 34.5 s into its minute.
NOW = ms("2025-03-10 12:34:34.500")


@pytest.fixture
def api(simulator):
    with httpx.Client(base_url=simulator.url, timeout=10) as client:
        yield client


@pytest.fixture
def frozen(simulator):
    simulator.clock.set(frozen_now_ms=NOW)
    return simulator


def klines(client: httpx.Client, **params) -> list[list]:
    response = client.get(
        "/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", **params}
    )
    assert response.status_code == 200, response.text
    return response.json()


def error(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["code"], body["msg"]


def klines_between(client: httpx.Client, start: int, end: int, **params) -> list[list]:
    """Every candle opening in [start, end], page after page."""
    rows: list[list] = []
    while page := klines(client, startTime=start, endTime=end, limit=1000, **params):
        rows += page
        start = page[-1][0] + 1
    return rows


def check_row(row: list, interval_ms: int) -> None:
    """A REST kline row as Binance documents it, with the invariants real candles obey."""
    assert len(row) == 12
    open_time, o, h, low, c, volume, close_time, quote, trades, taker_base, taker_quote, ignore = (
        row
    )
    assert isinstance(open_time, int) and isinstance(close_time, int) and isinstance(trades, int)
    assert close_time == open_time + interval_ms - 1
    for text in (o, h, low, c, volume, quote, taker_base, taker_quote):
        assert DECIMAL.match(text), text
    assert ignore == "0"
    o, h, low, c, volume, quote, taker_base, taker_quote = map(
        Decimal, (o, h, low, c, volume, quote, taker_base, taker_quote)
    )
    assert Decimal(0) < low <= min(o, c) and max(o, c) <= h
    assert volume >= 0 and quote >= 0 and trades >= 0
    assert taker_base <= volume and taker_quote <= quote
    if volume:
        assert low <= quote / volume <= h


# -- pagination -------------------------------------------------------------------------------


def test_start_time_only_returns_the_oldest_candles_from_there(api, frozen):
    start = ms("2025-01-01 23:00:00")
    rows = klines(api, startTime=start, limit=1000)
    assert len(rows) == 1000
    assert [row[0] for row in rows] == [start + i * MINUTE for i in range(1000)]  # crosses midnight
    for row in rows:
        check_row(row, MINUTE)


def test_start_time_inside_a_candle_starts_at_the_next_open(api, frozen):
    rows = klines(api, startTime=ms("2025-01-01 10:00:00") + 1, limit=3)
    assert [row[0] for row in rows] == [ms("2025-01-01 10:01:00") + i * MINUTE for i in range(3)]


def test_both_times_never_go_past_end_time(api, frozen):
    start, end = ms("2025-01-01 10:00:00"), ms("2025-01-01 10:09:59")
    rows = klines(api, startTime=start, endTime=end, limit=1000)
    assert [row[0] for row in rows] == [start + i * MINUTE for i in range(10)]
    assert klines(api, startTime=start, endTime=end, limit=4)[-1][0] == start + 3 * MINUTE


def test_end_time_only_returns_the_most_recent_candles_up_to_it(api, frozen):
    end = ms("2025-01-01 10:00:00")
    rows = klines(api, endTime=end, limit=5)
    assert [row[0] for row in rows] == [end - i * MINUTE for i in (4, 3, 2, 1, 0)]


def test_neither_time_returns_the_latest_candles_ending_with_the_one_forming(api, frozen):
    rows = klines(api)
    assert len(rows) == 500  # the documented default limit
    forming_open = NOW - NOW % MINUTE
    assert [row[0] for row in rows[-3:]] == [
        forming_open - 2 * MINUTE,
        forming_open - MINUTE,
        forming_open,
    ]
    assert rows[-1][6] > NOW  # still forming: its close time is in the future
    for row in rows:
        check_row(row, MINUTE)


def test_never_past_the_present(api, frozen):
    assert klines(api, startTime=NOW + MINUTE) == []
    rows = klines(api, startTime=NOW - 5 * MINUTE, endTime=NOW + DAY, limit=1000)
    assert rows[-1][0] == NOW - NOW % MINUTE
    hourly = klines(api, interval="1h", startTime=NOW - 3 * 3_600_000, limit=10)
    assert hourly[-1][0] == NOW - NOW % 3_600_000 and hourly[-1][6] > NOW


def test_pages_chain_without_gaps_or_repeats(api, frozen):
    start, opens = ms("2024-12-30 00:00:00"), []
    for _ in range(4):
        page = klines(api, startTime=start, limit=1000)
        opens += [row[0] for row in page]
        start = page[-1][0] + 1
    assert opens == [ms("2024-12-30 00:00:00") + i * MINUTE for i in range(4000)]


def test_no_candle_opens_before_the_listing(api, frozen):
    assert klines(api, startTime=0, limit=2)[0][0] == BTC_LISTED
    assert klines(api, endTime=BTC_LISTED - 1) == []
    # A daily candle opens at midnight even when trading started later that day.
    assert klines(api, interval="1d", startTime=0, limit=1)[0][0] == BTC_LISTED - BTC_LISTED % DAY


@pytest.mark.parametrize("limit", ["0", "1001", "5000"])
def test_limit_outside_1_to_1000_is_refused(api, limit):
    response = api.get(
        "/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": limit}
    )
    assert error(response) == (400, -1130, "Data sent for parameter 'limit' is not valid.")


def test_calendar_intervals_open_on_mondays_and_first_of_month(api, frozen):
    weekly = klines(api, interval="1w", limit=3)
    assert [datetime.fromtimestamp(row[0] / 1000, UTC).weekday() for row in weekly] == [
        0,
        0,
        0,
    ]
    monthly = klines(api, interval="1M", limit=3)
    assert [row[0] for row in monthly] == [ms("2025-01-01"), ms("2025-02-01"), ms("2025-03-01")]
    assert monthly[1][6] == ms("2025-03-01") - 1


# -- the candle still forming ---------------------------------------------------------------------


def test_the_forming_candle_grows_into_the_final_one(api, simulator):
    minute = ms("2025-03-10 12:34:00")
    seen = []
    for second in (1, 20, 59):
        simulator.clock.set(frozen_now_ms=minute + second * 1000)
        row = klines(api, limit=1)[0]
        assert row[0] == minute
        check_row(row, MINUTE)
        seen.append(row)
    simulator.clock.set(frozen_now_ms=minute + 5 * MINUTE)
    final = klines(api, startTime=minute, limit=1)[0]
    rows = [*seen, final]
    assert len({row[1] for row in rows}) == 1  # the open never changes
    highs, lows = [Decimal(row[2]) for row in rows], [Decimal(row[3]) for row in rows]
    assert highs == sorted(highs) and lows == sorted(lows, reverse=True)
    volumes, trades = [Decimal(row[5]) for row in rows], [row[8] for row in rows]
    assert volumes == sorted(volumes) and trades == sorted(trades)


# -- determinism and consistency --------------------------------------------------------------------


def test_any_range_gives_identical_candles_every_time(api, frozen):
    params: dict[str, str | int] = {
        "symbol": "ETHUSDT",
        "interval": "15m",
        "startTime": ms("2023-05-01"),
        "limit": 1000,
    }
    first = api.get("/api/v3/klines", params=params).content
    api.get("/api/v3/klines", params={**params, "startTime": ms("2021-01-01")})
    assert api.get("/api/v3/klines", params=params).content == first
    with SimulatorServer(clock=SimClock(frozen_now_ms=NOW)) as other:
        assert httpx.get(f"{other.url}/api/v3/klines", params=params).content == first


def _sum(rows: list[list], col: int) -> Decimal:
    return sum((Decimal(row[col]) for row in rows), Decimal(0))


@pytest.mark.parametrize("symbol", ["BTCUSDT", "DOGEUSDT", "ETHBTC"])
@pytest.mark.parametrize("interval, minutes", [("15m", 15), ("1h", 60), ("1d", 1440)])
def test_coarser_candles_are_made_of_their_1m_candles(api, frozen, symbol, interval, minutes):
    start = ms("2024-02-28 00:00:00")
    coarse = klines(api, symbol=symbol, interval=interval, startTime=start, limit=3)
    for candle in coarse:
        fine = klines_between(api, candle[0], candle[0] + minutes * MINUTE - 1, symbol=symbol)
        assert len(fine) == minutes
        assert candle[1] == fine[0][1] and candle[4] == fine[-1][4]
        assert Decimal(candle[2]) == max(Decimal(row[2]) for row in fine)
        assert Decimal(candle[3]) == min(Decimal(row[3]) for row in fine)
        for col in (5, 7, 9, 10):
            assert Decimal(candle[col]) == _sum(fine, col)
        assert candle[8] == sum(row[8] for row in fine)


def test_every_symbol_obeys_the_candle_invariants_and_opens_at_the_last_close(api, frozen):
    info = api.get("/api/v3/exchangeInfo").json()
    for symbol in (entry["symbol"] for entry in info["symbols"]):
        rows = klines(api, symbol=symbol, startTime=ms("2022-06-30 20:00:00"), limit=1000)
        assert len(rows) == 1000
        for previous, row in itertools.pairwise(rows):
            check_row(row, MINUTE)
            assert row[1] == previous[4]


# -- recordings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "interval, name",
    [
        ("1m", "BTCUSDT_1m_klines_2024-09-04.json"),
        ("15m", "BTCUSDT_15m_klines_2024-08-22_09-01.json"),
    ],
)
def test_recorded_candles_are_served_byte_for_byte(api, simulator, interval, name):
    recorded = (FIXTURES / name).read_bytes()
    first = json.loads(recorded)[0][0]
    response = api.get(
        "/api/v3/klines",
        params={"symbol": "BTCUSDT", "interval": interval, "startTime": first, "limit": 1000},
    )
    assert response.content == recorded


def test_coarser_candles_of_the_recorded_day_are_made_of_the_recorded_minutes(api, simulator):
    recorded = json.loads((FIXTURES / "BTCUSDT_1m_klines_2024-09-04.json").read_bytes())
    hour = [row for row in recorded if ms("2024-09-04 03:00") <= row[0] < ms("2024-09-04 04:00")]
    candle = klines(api, interval="1h", startTime=ms("2024-09-04 03:00"), limit=1)[0]
    assert candle[1] == hour[0][1] and candle[4] == hour[-1][4]
    assert Decimal(candle[2]) == max(Decimal(row[2]) for row in hour)
    assert Decimal(candle[5]) == _sum(hour, 5) and candle[8] == sum(row[8] for row in hour)


# -- weights, 429 and 418 ----------------------------------------------------------------------------------


def test_every_response_reports_the_weight_used_this_minute(api, frozen):
    calls = [
        ("/api/v3/ping", {}, 1),
        ("/api/v3/time", {}, 1),
        ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m"}, 2),
        ("/api/v3/uiKlines", {"symbol": "BTCUSDT", "interval": "1m"}, 2),
        ("/api/v3/exchangeInfo", {}, 20),
        ("/api/v3/ticker/price", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/ticker/price", {}, 4),
        ("/api/v3/klines", {"symbol": "NOSUCHCOIN", "interval": "1m"}, 2),  # errors cost weight too
    ]
    used = 0
    for path, params, weight in calls:
        response = api.get(path, params=params)
        used += weight
        assert int(response.headers["X-MBX-USED-WEIGHT-1M"]) == used, path
    assert frozen.stats["weight"] == used


@pytest.fixture
def small_limit():
    """A server allowing 10 weight a minute, its clock 15 s into a minute."""
    clock = SimClock(frozen_now_ms=ms("2025-03-10 12:00:15"))
    with (
        SimulatorServer(weight_limit=10, window_seconds=60, clock=clock) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        yield server, client


def test_past_the_limit_429_then_a_ban_for_ignoring_it(small_limit):
    server, client = small_limit
    for used in range(1, 11):
        response = client.get("/api/v3/ping")
        assert response.status_code == 200 and response.headers["X-MBX-USED-WEIGHT-1M"] == str(used)
    for _ in range(6):  # the first 429 and a few more ignored ones
        response = client.get("/api/v3/ping")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "45"  # seconds left in the minute
        assert response.json()["code"] == -1003
    banned = client.get("/api/v3/ping")
    assert banned.status_code == 418 and banned.json()["code"] == -1003
    assert banned.headers["Retry-After"] == "120"
    server.clock.set(frozen_now_ms=ms("2025-03-10 12:01:30"))  # a new window, still banned
    assert client.get("/api/v3/ping").status_code == 418
    server.clock.set(frozen_now_ms=ms("2025-03-10 12:02:16"))  # the ban is over
    assert client.get("/api/v3/ping").status_code == 200
    assert server.stats[429] == 6 and server.stats[418] == 2


def test_a_429_storm_bans_a_client_that_ignores_retry_after(small_limit):
    """The throttle fault's 429s count like real ones: the 7th ignored one in a window is a ban,
    and a banned IP gets 418 while the storm lasts and after it (Binance: 'repeatedly violating
    rate limits and/or failing to back off after receiving 429s will result in an automated IP ban')."""
    server, client = small_limit
    server.faults.update(throttle_next_n=20)
    statuses = [client.get("/api/v3/ping").status_code for _ in range(9)]
    assert statuses == [429] * 6 + [418] * 3
    server.faults.update(throttle_next_n=0)
    assert client.get("/api/v3/ping").status_code == 418  # the storm is over, the ban is not
    assert server.stats[418] == 4
    assert server.limiter.bans_started() == 1  # one ban, however many 418s it answered


def test_the_first_ban_can_be_shortened_and_bans_are_counted():
    clock = SimClock(frozen_now_ms=ms("2025-03-10 12:00:15"))
    with SimulatorServer(clock=clock, first_ban_s=3) as server:
        server.faults.update(throttle_next_n=7)
        responses = [httpx.get(f"{server.url}/api/v3/ping") for _ in range(7)]
        assert responses[-1].status_code == 418 and responses[-1].headers["Retry-After"] == "3"
        assert server.limiter.bans_started() == 1
        server.clock.set(frozen_now_ms=ms("2025-03-10 12:00:18"))  # the ban is over
        assert httpx.get(f"{server.url}/api/v3/ping").status_code == 200
        server.reset()
        assert server.limiter.bans_started() == 0


def test_a_429_storm_never_bans_a_client_that_waits(small_limit):
    server, client = small_limit
    server.faults.update(throttle_next_n=20)
    for minute in range(1, 10):  # one request per window, as Retry-After asks
        assert client.get("/api/v3/ping").status_code == 429
        server.clock.set(frozen_now_ms=ms("2025-03-10 12:00:00") + minute * 60_000)
    assert server.stats[418] == 0


def test_a_client_that_waits_for_the_next_window_is_served_again(small_limit):
    server, client = small_limit
    client.get("/api/v3/exchangeInfo")  # 20 > 10
    assert client.get("/api/v3/ping").status_code == 429
    server.clock.set(frozen_now_ms=ms("2025-03-10 12:01:00"))
    response = client.get("/api/v3/ping")
    assert response.status_code == 200 and response.headers["X-MBX-USED-WEIGHT-1M"] == "1"


def test_with_limits_off_weight_is_reported_but_nothing_refused(small_limit):
    server, client = small_limit
    server.faults.update(enforce_limits=False)
    statuses = {
        client.get(
            "/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m", "limit": 1}
        ).status_code
        for _ in range(20)
    }
    assert statuses == {200}
    assert client.get("/api/v3/ping").headers["X-MBX-USED-WEIGHT-1M"] == "41"


def test_exchange_info_rate_limits_follow_the_configuration(api, simulator):
    limits = api.get("/api/v3/exchangeInfo").json()["rateLimits"]
    assert {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 6000,
    } in limits
    assert {
        "rateLimitType": "RAW_REQUESTS",
        "interval": "MINUTE",
        "intervalNum": 5,
        "limit": 300000,
    } in limits
    with SimulatorServer(weight_limit=600, window_seconds=6) as short:
        response = httpx.get(f"{short.url}/api/v3/exchangeInfo")
        weight_rule = next(
            r for r in response.json()["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT"
        )
        assert weight_rule == {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "SECOND",
            "intervalNum": 6,
            "limit": 600,
        }
        assert (
            response.headers["X-MBX-USED-WEIGHT-6S"]
            == response.headers["X-MBX-USED-WEIGHT-1M"]
            == "20"
        )


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"symbol": "NOSUCHCOIN", "interval": "1m"}, (400, -1121, "Invalid symbol.")),
        ({"symbol": "BTCUSDT", "interval": "2m"}, (400, -1120, "Invalid interval.")),
        (
            {"interval": "1m"},
            (
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            ),
        ),
        (
            {"symbol": "", "interval": "1m"},
            (
                400,
                -1102,
                "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
            ),
        ),
        (
            {"symbol": "BTCUSDT"},
            (
                400,
                -1102,
                "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
            ),
        ),
        (
            {"symbol": "btcusdt", "interval": "1m"},
            (
                400,
                -1100,
                "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'.",
            ),
        ),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": "1589817600.0"},
            (
                400,
                -1100,
                "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'.",
            ),
        ),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "foo": "1"},
            (
                400,
                -1104,
                "Not all sent parameters were read; read '2' parameter(s) but was sent '3'.",
            ),
        ),
    ],
)
def test_bad_kline_requests_get_binance_errors(api, params, expected):
    assert error(api.get("/api/v3/klines", params=params)) == expected


def test_a_parameter_sent_twice_is_refused(api):
    response = api.get("/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5&limit=6")
    assert error(response) == (400, -1101, "Duplicate values for a parameter detected.")


# -- exchangeInfo, ticker, ping, time ---------------------------------------------------------------------


def test_exchange_info_lists_the_recorded_symbols(api, frozen):
    recorded = json.loads((FIXTURES / "exchangeInfo_spot_2022-12-17_trimmed.json").read_bytes())
    info = api.get("/api/v3/exchangeInfo").json()
    assert info["serverTime"] == NOW and info["timezone"] == "UTC"
    assert info["symbols"] == recorded["symbols"]
    statuses = [entry["status"] for entry in info["symbols"]]
    assert statuses.count("TRADING") == 10 and statuses.count("BREAK") == 3


def test_exchange_info_filters(api):
    one = api.get("/api/v3/exchangeInfo", params={"symbol": "ETHUSDT"}).json()["symbols"]
    assert [entry["symbol"] for entry in one] == ["ETHUSDT"]
    two = api.get("/api/v3/exchangeInfo", params={"symbols": '["BTCUSDT","BCCBTC"]'}).json()[
        "symbols"
    ]
    assert [(entry["symbol"], entry["status"]) for entry in two] == [
        ("BTCUSDT", "TRADING"),
        ("BCCBTC", "BREAK"),
    ]
    for params in ({"symbol": "NOPE"}, {"symbols": '["BTCUSDT","NOPE"]'}):
        assert error(api.get("/api/v3/exchangeInfo", params=params))[:2] == (400, -1121)


def test_break_symbols_still_serve_klines(api, frozen):
    check_row(klines(api, symbol="BCCBTC", limit=1)[0], MINUTE)


def test_extra_symbols_for_stream_benchmarks():
    with SimulatorServer(extra_symbols=200) as server:
        symbols = httpx.get(f"{server.url}/api/v3/exchangeInfo").json()["symbols"]
        extra = [entry for entry in symbols if entry["symbol"].startswith("SYM")]
        assert len(symbols) == 213 and len(extra) == 200
        assert extra[0]["symbol"] == "SYM0001USDT" and extra[-1]["symbol"] == "SYM0200USDT"
        assert {entry["status"] for entry in extra} == {"TRADING"}
        prices = httpx.get(f"{server.url}/api/v3/ticker/price").json()
        assert len(prices) == 213


def test_ticker_price_is_the_close_of_the_candle_forming(api, frozen):
    price = api.get("/api/v3/ticker/price", params={"symbol": "SOLUSDT"}).json()
    assert price == {"symbol": "SOLUSDT", "price": klines(api, symbol="SOLUSDT", limit=1)[0][4]}
    listing = api.get("/api/v3/ticker/price").json()
    assert [entry["symbol"] for entry in listing][:3] == ["ETHBTC", "BNBBTC", "BTCUSDT"]
    assert all(DECIMAL.match(entry["price"]) for entry in listing)


def test_ping_and_time(api, frozen):
    assert api.get("/api/v3/ping").json() == {}
    assert api.get("/api/v3/time").json() == {"serverTime": NOW}


# -- faults ---------------------------------------------------------------------------------------------


def test_fail_next_n_answers_5xx_then_recovers(api, simulator):
    simulator.faults.update(fail_next_n=2)
    assert [api.get("/api/v3/ping").status_code for _ in range(3)] == [503, 503, 200]
    assert simulator.stats["5xx"] == 2


def test_error_rate_one_fails_everything(api, simulator):
    simulator.faults.update(error_5xx_rate=1.0, error_status=502)
    assert {api.get("/api/v3/time").status_code for _ in range(5)} == {502}


def test_throttle_next_n_answers_429_with_retry_after(api, simulator):
    simulator.clock.set(frozen_now_ms=ms("2025-03-10 12:00:50"))
    simulator.faults.update(throttle_next_n=1)
    response = api.get("/api/v3/ping")
    assert response.status_code == 429 and response.headers["Retry-After"] == "10"
    assert api.get("/api/v3/ping").status_code == 200


def test_truncated_bodies(api, simulator):
    simulator.faults.update(truncate_next_n=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"})
    assert len(klines(api)) == 500  # the next request, on a new connection, is whole
    simulator.faults.update(truncate_next_n=1, truncate_style="json")
    response = api.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_reset_connections(api, simulator):
    simulator.faults.update(reset_next_n=1)
    with pytest.raises(httpx.ReadError, match="reset by peer"):
        api.get("/api/v3/ping")
    assert api.get("/api/v3/ping").status_code == 200  # the next one, on a new connection
    assert simulator.faults.current.reset_next_n == 0
    assert simulator.stats["requests"] == 1  # a reset is no answer: not counted


def test_latency(api, simulator):
    simulator.faults.update(latency_ms=150)
    started = time.perf_counter()
    api.get("/api/v3/ping")
    assert time.perf_counter() - started >= 0.15


def test_outage_windows_leave_gaps_in_every_symbol(api, frozen):
    start, outage = ms("2025-01-01 10:00"), [ms("2025-01-01 10:05"), ms("2025-01-01 10:20")]
    frozen.faults.update(outages=[outage])
    for symbol in ("BTCUSDT", "ETHUSDT"):
        opens = [row[0] for row in klines(api, symbol=symbol, startTime=start, limit=10)]
        assert opens == [start + i * MINUTE for i in range(5)] + [
            outage[1] + i * MINUTE for i in range(5)
        ]
    quarter = klines(api, interval="15m", startTime=start, limit=2)
    assert [row[0] for row in quarter] == [
        start,
        ms("2025-01-01 10:15"),
    ]  # partly inside: still there
    minutes = klines_between(api, start, start + 15 * MINUTE - 1)
    assert Decimal(quarter[0][5]) == _sum(minutes, 5)  # made of the minutes that exist


def test_geo_block(api, simulator):
    simulator.faults.update(geo_block=True)
    status, code, msg = error(api.get("/api/v3/ping"))
    assert (status, code) == (451, 0) and msg.startswith(
        "Service unavailable from a restricted location"
    )


def test_faults_and_clock_over_http(api, simulator):
    assert (
        api.post("/_sim/faults", json={"fail_next_n": 1, "latency_ms": 0}).json()["fail_next_n"]
        == 1
    )
    assert api.get("/_sim/faults").json()["fail_next_n"] == 1
    assert api.get("/api/v3/ping").status_code == 503
    assert api.post("/_sim/faults", json={"no_such_fault": 1}).status_code == 400
    assert api.post("/_sim/faults", json={"outages": [[5, 1]]}).status_code == 400
    api.post("/_sim/faults", json={"throttle_next_n": 3})
    api.post("/_sim/reset")
    assert api.get("/api/v3/ping").status_code == 200
    assert api.get("/_sim/stats").json() == {
        "requests": 1,
        "weight": 1,
        "5xx": 0,
        "200": 1,
        "418": 0,
        "429": 0,
        "weight /api/v3/ping": 1,
        "archive_requests": 0,
        "archive_files": 0,
        "archive_bytes": 0,
    }
    assert api.post("/_sim/clock", json={"frozen_now_ms": NOW}).json()["now_ms"] == NOW
    assert api.get("/api/v3/time").json() == {"serverTime": NOW}
    api.post("/_sim/clock", json={"reset": True})
    assert abs(api.get("/api/v3/time").json()["serverTime"] - time.time() * 1000) < 5_000


def test_clock_offset_and_speed():
    clock = SimClock(offset_ms=-DAY)
    assert abs(clock.now_ms() - (time.time() * 1000 - DAY)) < 1_000
    began = time.monotonic()
    clock.set(start_ms=NOW, speed=60.0)
    time.sleep(0.2)  # let wall time pass: market time must run 60 x as fast
    market_ms = clock.now_ms() - NOW
    wall_s = time.monotonic() - began
    assert 0.2 * 60_000 <= market_ms <= wall_s * 60_000 + 1


# -- HTTP -------------------------------------------------------------------------------------------


def test_one_connection_serves_many_requests(simulator):
    host, port = simulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        received = b""
        while received.count(b"{}") < 3:
            chunk = conn.recv(65536)
            assert chunk, "the server closed a keep-alive connection"
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 3


def test_command_line_serves_until_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "crypto_assets.binance.simulator", "--port", "0", "--no-limits"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        serving = re.search(r"http://\S+", process.stdout.readline())
        assert serving is not None, "the simulator printed no URL"
        url = serving.group(0)
        assert httpx.get(f"{url}/api/v3/ping").json() == {}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
