"""The REST client against the simulator over real HTTP: pagination, forming candle, retries,
rate limits and errors."""

import threading
from datetime import UTC, datetime

import httpx
import pytest

from crypto_assets.binance.errors import (
    BinanceAPIError,
    BinanceUnavailableError,
    GeoBlockedError,
    SymbolNotTradingError,
    UnknownSymbolError,
)
from crypto_assets.binance.limiter import WeightLimiter
from crypto_assets.binance.rest import BinanceRestClient
from crypto_assets.binance.simulator import SimulatorServer
from crypto_assets.binance.wire import UnsupportedIntervalError

MINUTE = 60_000
T0 = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)


def fetch(client, start, end, symbol="BTCUSDT", interval="1m"):
    return [k for page in client.iter_klines(symbol, interval, start, end) for k in page]


@pytest.fixture
def client(simulator):
    with BinanceRestClient(simulator.url, backoff_s=0.01) as c:
        yield c


def test_exactly_1000_candles_is_one_request(client):
    rows = fetch(client, T0, T0 + 1000 * MINUTE)
    assert [k.open_time for k in rows] == [T0 + i * MINUTE for i in range(1000)]
    assert all(k.close_time == k.open_time + MINUTE - 1 for k in rows)
    klines_requests = client.stats["requests"] - 2  # exchangeInfo + time
    assert klines_requests == 1


def test_partial_last_page(client):
    rows = fetch(client, T0, T0 + 2500 * MINUTE)
    assert [k.open_time for k in rows] == [T0 + i * MINUTE for i in range(2500)]
    assert client.stats["requests"] - 2 == 3


def test_empty_range_sends_no_klines_request(client):
    assert fetch(client, T0, T0) == []
    assert client.stats["requests"] == 2  # exchangeInfo + time only


def test_range_crossing_the_present_stops_at_the_last_closed_candle(simulator, client):
    now = T0 + 10 * MINUTE + 30_000  # 10.5 minutes after T0: minute 10 is still forming
    simulator.clock.freeze(now)
    raw = httpx.get(
        f"{simulator.url}/api/v3/klines",
        params={"symbol": "BTCUSDT", "interval": "1m", "startTime": T0, "limit": 1000},
    ).json()
    assert len(raw) == 11 and raw[-1][6] > now  # the exchange does send the forming candle
    rows = fetch(client, T0, T0 + 60 * MINUTE)
    assert [k.open_time for k in rows] == [T0 + i * MINUTE for i in range(10)]
    assert all(k.close_time < now for k in rows)


def test_pages_are_exact_decimal_strings(simulator, client):
    raw = httpx.get(
        f"{simulator.url}/api/v3/klines",
        params={"symbol": "ETHUSDT", "interval": "15m", "startTime": T0, "limit": 20},
    ).json()
    rows = fetch(client, T0, T0 + 20 * 15 * MINUTE, symbol="ETHUSDT", interval="15m")
    assert [list(k) for k in rows] == [
        [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]] for r in raw
    ]


def test_429_burst_loses_nothing():
    """A burst of 429s (Retry-After = rest of a 2 s window) is waited out; no 418 follows."""
    with (
        SimulatorServer(window_seconds=2) as sim,
        BinanceRestClient(sim.url, backoff_s=0.01) as client,
    ):
        sim.faults.update(throttle_next_n=3)
        rows = fetch(client, T0, T0 + 3000 * MINUTE)
        assert [k.open_time for k in rows] == [T0 + i * MINUTE for i in range(3000)]
        assert client.stats["throttled"] == 3
        assert sim.stats[429] == 3 and sim.stats[418] == 0


def test_5xx_and_truncated_bodies_are_retried(simulator, client):
    simulator.faults.update(fail_next_n=2, truncate_next_n=2)
    rows = fetch(client, T0, T0 + 4000 * MINUTE)
    assert [k.open_time for k in rows] == [T0 + i * MINUTE for i in range(4000)]
    assert client.stats["retries"] >= 4


def test_binance_error_body_becomes_exception_with_code_and_msg(client):
    with pytest.raises(BinanceAPIError) as err:
        client.get("/api/v3/klines", {"symbol": "NOPEUSDT", "interval": "1m"}, weight=2)
    assert (err.value.code, err.value.msg, err.value.status) == (-1121, "Invalid symbol.", 400)
    with pytest.raises(BinanceAPIError) as err:
        client.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "7m"}, weight=2)
    assert err.value.code == -1120


def test_unsupported_interval_is_refused_before_any_request(client):
    with pytest.raises(UnsupportedIntervalError, match="'7m'"):
        fetch(client, T0, T0 + MINUTE, interval="7m")
    assert client.stats["requests"] == 0


def test_validate_symbols_names_unknown_and_non_trading(client):
    assert set(client.validate_symbols(["BTCUSDT", "ETHUSDT"])) == {"BTCUSDT", "ETHUSDT"}
    with pytest.raises(UnknownSymbolError, match="FOOBARUSDT"):
        client.validate_symbols(["BTCUSDT", "FOOBARUSDT"])
    with pytest.raises(SymbolNotTradingError, match="BCCBTC is BREAK"):
        client.validate_symbols(["BCCBTC"])


def test_geo_block_says_so_and_suggests_base_url(simulator, client):
    simulator.faults.update(geo_block=True)
    with pytest.raises(GeoBlockedError) as err:
        client.exchange_info()
    assert "BINANCE_API_URL" in str(err.value) and "restricted location" in str(err.value)


def test_unreachable_binance_names_the_url():
    with (
        BinanceRestClient("http://127.0.0.1:9", retry_budget_s=0.3, backoff_s=0.01) as client,
        pytest.raises(BinanceUnavailableError) as err,
    ):
        client.exchange_info()
    assert "http://127.0.0.1:9/api/v3/exchangeInfo" in str(err.value)
    assert "ConnectError" in str(err.value) and "retry budget 0 s" in str(err.value)
    assert err.value.attempts > 3  # kept trying for the budget, not for a count


def test_weight_limit_is_never_reached_by_two_clients_at_once():
    """Two clients with separate limiters (like two processes) share one IP's budget via the header."""
    with SimulatorServer(weight_limit=120, window_seconds=1) as sim:
        results: dict[str, int] = {}

        def backfill(symbol):
            with BinanceRestClient(
                sim.url, limiter=WeightLimiter(share=0.9), concurrency=4, backoff_s=0.01
            ) as client:
                results[symbol] = len(fetch(client, T0, T0 + 60_000 * MINUTE, symbol=symbol))

        threads = [threading.Thread(target=backfill, args=(s,)) for s in ("BTCUSDT", "ETHUSDT")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {"BTCUSDT": 60_000, "ETHUSDT": 60_000}
        assert sim.stats[429] == 0 and sim.stats[418] == 0


def test_a_long_symbol_list_asks_for_the_whole_exchange_info_not_a_long_url(simulator, client):
    many = ["BTCUSDT", "ETHUSDT"] + [
        f"NOPE{i:04d}USDT" for i in range(700)
    ]  # 15 KB as symbols=[...]
    listed = client.listed_symbols(many)
    assert {s: info.status for s, info in listed.items()} == {
        "BTCUSDT": "TRADING",
        "ETHUSDT": "TRADING",
    }
    assert (
        simulator.stats["requests"] == 1 and simulator.stats["weight"] == 20
    )  # one exchangeInfo, answered
    assert client.listed_symbols(["ETHUSDT", "NOPEUSDT"]).keys() == {
        "ETHUSDT"
    }  # short: asked by name, then whole
