"""The simulator's WebSocket streams over a real socket, checked against Binance's documentation.

Expected candles come from the simulator's REST klines over HTTP (another code path), the
protocol rules from binance-api.md (pushes every 2 s, ``x`` on the last push of a minute,
pings, limits). The market clock runs 60x; waits poll observable state with deadlines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.frames import Opcode
from websockets.uri import parse_uri

from crypto_assets.binance.simulator import SimClock, SimulatorServer
from crypto_assets.binance.simulator.stream_limits import StreamRules
from crypto_assets_tests.stream.fixtures import stream_simulator, stream_simulator_server  # noqa: F401 (fixtures)
from crypto_assets_tests.stream.helpers import MINUTE, SPEED, START_MS

DEADLINE_S = 20.0


@pytest.fixture
def sim(stream_simulator):  # noqa: F811 (the imported fixture)
    return stream_simulator


def own_server(**rules) -> SimulatorServer:
    """A simulator with other stream rules than the shared one's."""
    return SimulatorServer(
        clock=SimClock(start_ms=START_MS, speed=SPEED), stream_rules=StreamRules(**rules)
    )


def open_ws(url: str):
    return connect(url, compression=None, ping_interval=None, open_timeout=5, close_timeout=1)


def collect(url: str, until, deadline_s: float = DEADLINE_S) -> list[dict]:
    """Messages of one connection (JSON) until ``until(messages)`` holds."""

    async def run() -> list[dict]:
        messages: list[dict] = []
        async with open_ws(url) as ws:
            async with asyncio.timeout(deadline_s):
                while not until(messages):
                    messages.append(json.loads(await ws.recv()))
        return messages

    return asyncio.run(run())


def rest_row(sim, symbol: str, open_time: int) -> list:
    response = httpx.get(
        f"{sim.url}/api/v3/klines",
        params={"symbol": symbol, "interval": "1m", "startTime": open_time, "limit": 1},
    )
    return response.json()[0]


def as_rest_row(k: dict) -> list:
    return [
        k["t"],
        k["o"],
        k["h"],
        k["l"],
        k["c"],
        k["v"],
        k["T"],
        k["q"],
        k["n"],
        k["V"],
        k["Q"],
        k["B"],
    ]


def closed_count(messages: list[dict], per_stream: int, streams: int) -> bool:
    return sum(1 for m in messages if m["data"]["k"]["x"]) >= per_stream * streams


def test_combined_streams_push_every_2s_and_the_final_push_is_rests_kline(sim):
    url = f"{sim.ws_url}/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
    messages = collect(url, lambda ms: closed_count(ms, 2, 2))
    for stream, symbol in (("btcusdt@kline_1m", "BTCUSDT"), ("ethusdt@kline_1m", "ETHUSDT")):
        pushes = [m["data"] for m in messages if m["stream"] == stream]
        assert {(p["e"], p["s"], p["k"]["s"], p["k"]["i"]) for p in pushes} == {
            ("kline", symbol, symbol, "1m")
        }
        forming = [p for p in pushes if not p["k"]["x"]]
        assert all(
            b["E"] - a["E"] == 2_000 for a, b in itertools.pairwise(forming)
        )  # every 2 s of market time
        for final in (p for p in pushes if p["k"]["x"]):
            k = final["k"]
            assert final["E"] == k["T"] + 1  # the last push of its minute, sent as it ends
            assert as_rest_row(k) == rest_row(sim, symbol, k["t"])
            assert k["L"] - k["f"] + 1 == k["n"]
            same_minute = [p["k"] for p in forming if p["k"]["t"] == k["t"]]
            assert {p["o"] for p in same_minute} == {k["o"]}
            assert all(
                float(p["h"]) <= float(k["h"]) and float(p["l"]) >= float(k["l"])
                for p in same_minute
            )


def test_a_raw_stream_sends_bare_payloads(sim):
    messages = collect(f"{sim.ws_url}/ws/solusdt@kline_1m", lambda ms: len(ms) >= 3)
    assert all(m["e"] == "kline" and m["s"] == "SOLUSDT" and "stream" not in m for m in messages)


@pytest.mark.parametrize(
    ("target", "status", "named"),
    [
        ("/stream?streams=btcusdt@kline_1m/nopeusdt@kline_1m", 400, "NOPEUSDT"),
        ("/ws/BTCUSDT@kline_1m", 400, "BTCUSDT@kline_1m"),
        ("/ws/btcusdt@kline_5m", 400, "5m"),
        ("/stream", 400, "streams"),
        ("/nowhere", 404, "/nowhere"),
    ],
)
def test_streams_the_simulator_cannot_serve_are_refused_naming_them(sim, target, status, named):
    async def attempt():
        async with open_ws(f"{sim.ws_url}{target}"):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code == status
    assert named in json.loads(refused.value.response.body)["msg"]


def test_pings_are_sent_and_a_client_that_never_pongs_is_closed():
    with own_server(ping_interval_s=0.2, pong_timeout_s=1.0) as sim:
        uri = parse_uri(f"{sim.ws_url}/ws/btcusdt@kline_1m")
        client = ClientProtocol(uri)
        with socket.create_connection((uri.host, uri.port), timeout=DEADLINE_S) as sock:
            client.send_request(client.connect())
            sock.sendall(
                b"".join(client.data_to_send())
            )  # the handshake only: pongs are never sent
            pings, deadline = 0, time.monotonic() + DEADLINE_S
            while (data := sock.recv(65536)) and time.monotonic() < deadline:
                client.receive_data(data)
                pings += sum(
                    1
                    for event in client.events_received()
                    if getattr(event, "opcode", None) is Opcode.PING
                )
        assert pings >= 2
        assert (
            client.close_rcvd is not None and client.close_rcvd.code == 1008
        )  # policy violation: no pong
        assert sim.streams.stats["closed_pong_timeout"] == 1


def test_a_client_answering_pings_stays_connected():
    with own_server(ping_interval_s=0.2, pong_timeout_s=1.0) as sim:
        collect(
            f"{sim.ws_url}/ws/btcusdt@kline_1m", lambda ms: sim.streams.stats["pongs"] >= 8
        )  # > pong timeout
        assert sim.streams.stats["closed_pong_timeout"] == 0


def test_a_connection_ends_at_its_lifetime():
    with own_server(max_lifetime_s=0.5) as sim:

        async def run():
            async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws:
                with pytest.raises(ConnectionClosedOK):
                    async with asyncio.timeout(DEADLINE_S):
                        while True:
                            await ws.recv()
                return ws.close_code, ws.close_reason

        assert asyncio.run(run()) == (1000, "connection lifetime reached")


def test_server_shutdown_is_announced_then_the_connection_closes(sim):
    async def run():
        async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws:
            await ws.recv()
            assert sim.streams.shutdown_all(grace_s=0.3) == 1
            seen = []
            with pytest.raises(ConnectionClosedOK):
                async with asyncio.timeout(DEADLINE_S):
                    while True:
                        seen.append(json.loads(await ws.recv()))
            return seen, ws.close_code

    seen, code = asyncio.run(run())
    assert [m["event"]["e"] for m in seen if "event" in m] == ["serverShutdown"]
    assert code == 1001


def test_a_dropped_connection_ends_without_a_close_frame(sim):
    async def run():
        async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws:
            await ws.recv()
            assert sim.streams.drop_all() == 1
            with pytest.raises(ConnectionClosedError):
                async with asyncio.timeout(DEADLINE_S):
                    while True:
                        await ws.recv()
            return ws.protocol.close_rcvd

    assert asyncio.run(run()) is None
    assert sim.streams.stats["closed_dropped"] == 1


def test_malformed_pushes_break_in_four_ways_then_the_stream_goes_on(sim):
    async def run():
        async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws:
            await ws.recv()
            sim.streams.faults.update(malformed_next_n=4)
            return [await ws.recv() for _ in range(6)]

    texts = asyncio.run(run())
    broken = texts[:4]
    with pytest.raises(ValueError):
        json.loads(broken[0])  # cut short
    parsed = [json.loads(text) for text in broken[1:]]
    assert parsed[0]["k"]["c"].startswith("NaN")
    assert parsed[1]["k"]["x"] == "maybe"
    assert "k" not in parsed[2]
    assert all(json.loads(text)["k"]["c"][0].isdigit() for text in texts[4:])


def test_a_stall_sends_nothing_and_then_resumes_at_the_present_without_replay(sim):
    async def run():
        async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws:
            before = json.loads(await ws.recv())
            sim.streams.faults.update(stall_s=1.0)
            async with asyncio.timeout(DEADLINE_S):
                while True:  # pushes already in flight when the stall began
                    after = json.loads(await ws.recv())
                    if after["E"] - before["E"] > 2_000:
                        return before, after
                    before = after

    before, after = asyncio.run(run())
    assert (
        after["E"] - before["E"] >= 0.8 * SPEED * 1_000
    )  # about a second of wall time, in market time


def test_refused_reconnects_answer_503_until_the_fault_ends(sim):
    sim.streams.faults.update(refuse_s=0.5)

    async def attempt():
        async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws:
            return json.loads(await ws.recv())["e"]

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code == 503
    deadline = time.monotonic() + DEADLINE_S
    while sim.streams.faults.refusing():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert asyncio.run(attempt()) == "kline"


@pytest.mark.parametrize("kind", ["pings", "requests"])
def test_more_than_5_client_messages_a_second_close_the_connection(sim, kind):
    async def run():
        async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws:
            for n in range(6):
                await (
                    ws.ping()
                    if kind == "pings"
                    else ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}))
                )
            with pytest.raises(ConnectionClosedError):
                async with asyncio.timeout(DEADLINE_S):
                    while True:
                        await ws.recv()
            return ws.close_code, ws.close_reason

    assert asyncio.run(run()) == (1008, "Too many requests")
    assert sim.streams.stats["closed_message_rate"] == 1


def test_connection_attempts_over_the_limit_get_429_with_retry_after():
    with own_server(max_attempts=3, attempts_window_s=60) as sim:

        async def attempt():
            async with open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m"):
                pass

        for _ in range(3):
            asyncio.run(attempt())
        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(attempt())
        assert refused.value.response.status_code == 429
        assert 0 < int(refused.value.response.headers["Retry-After"]) <= 61


def test_no_candle_is_pushed_inside_an_exchange_outage(sim):
    outage_start = (sim.clock.now_ms() // MINUTE + 1) * MINUTE
    sim.faults.update(outages=[[outage_start, outage_start + MINUTE]])
    messages = collect(
        f"{sim.ws_url}/ws/btcusdt@kline_1m", lambda ms: any(m["k"]["t"] > outage_start for m in ms)
    )
    assert all(m["k"]["t"] != outage_start for m in messages)


def test_the_admin_endpoint_sets_stream_faults_and_acts_on_connections(sim):
    async def run():
        async with (
            open_ws(f"{sim.ws_url}/ws/btcusdt@kline_1m") as ws,
            httpx.AsyncClient(base_url=sim.url) as admin,
        ):
            await ws.recv()
            shown = (await admin.get("/_sim/stream")).json()
            changed = (
                await admin.post("/_sim/stream", json={"malformed_next_n": 2, "drop": True})
            ).json()
            with pytest.raises(ConnectionClosedError):
                async with asyncio.timeout(DEADLINE_S):
                    while True:
                        await ws.recv()
            return shown, changed

    shown, changed = asyncio.run(run())
    assert shown["open"] == 1 and shown["status_101"] == 1
    assert changed["faults"]["malformed_next_n"] == 2 and changed["closed_dropped"] == 1
    bad = httpx.post(f"{sim.url}/_sim/stream", json={"stall": 3})
    assert bad.status_code == 400 and "stall" in bad.json()["error"]


def test_a_request_line_over_8_kb_is_refused_with_414(sim):
    names = [f"sym{i:04d}usdt@kline_1m" for i in range(1, 501)]  # 10.5 KB of names

    async def attempt():
        async with open_ws(f"{sim.ws_url}/stream?streams={'/'.join(names)}"):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(attempt())
    assert refused.value.response.status_code == 414
    symbols = json.dumps([f"SYM{i:04d}USDT" for i in range(1, 701)])
    response = httpx.get(f"{sim.url}/api/v3/exchangeInfo", params={"symbols": symbols})
    assert response.status_code == 414 and "at most 8192" in response.json()["msg"]


def request(ws, method: str, request_id, params=None):
    """Send one control request; returns its reply (pushes before it are skipped)."""

    async def run():
        body = (
            {"method": method, "id": request_id}
            if params is None
            else {"method": method, "params": params, "id": request_id}
        )
        await ws.send(json.dumps(body))
        async with asyncio.timeout(DEADLINE_S):
            while "stream" in (reply := json.loads(await ws.recv())):
                pass
        await asyncio.sleep(
            0.5
        )  # at most 2 requests a second: with the pongs (a ping every 0.5 s), under 5
        return reply

    return run()


def test_subscribe_unsubscribe_and_list_are_answered_as_binance_does(sim):
    async def run():
        async with open_ws(f"{sim.ws_url}/stream?streams=btcusdt@kline_1m") as ws:
            subscribed = await request(ws, "SUBSCRIBE", 1, ["ethusdt@kline_1m"])
            listed = await request(ws, "LIST_SUBSCRIPTIONS", 2)
            async with asyncio.timeout(DEADLINE_S):
                while json.loads(await ws.recv())["stream"] != "ethusdt@kline_1m":
                    pass
            unsubscribed = await request(ws, "UNSUBSCRIBE", 3, ["btcusdt@kline_1m"])
            after = [json.loads(await ws.recv())["stream"] for _ in range(6)]
            return subscribed, listed, unsubscribed, after

    subscribed, listed, unsubscribed, after = asyncio.run(run())
    # The replies of the documentation (binance-spot-api-docs, web-socket-streams.md).
    assert subscribed == {"result": None, "id": 1} and unsubscribed == {"result": None, "id": 3}
    assert listed == {"result": ["btcusdt@kline_1m", "ethusdt@kline_1m"], "id": 2}
    assert set(after) == {"ethusdt@kline_1m"}
    assert sim.streams.stats["requests"] == 3


def test_bad_requests_get_binances_error_replies_and_change_nothing(sim):
    async def run():
        async with open_ws(f"{sim.ws_url}/stream?streams=btcusdt@kline_1m") as ws:
            replies = [
                await request(ws, "SUBSCRIBE", 1, ["nopeusdt@kline_1m"]),
                await request(ws, "SUBSCRIBE", -1, ["ethusdt@kline_1m"]),
                await request(ws, "SUBSCRIBE_ALL", 2, []),
            ]
            await ws.send("{not json")
            async with asyncio.timeout(DEADLINE_S):
                while "stream" in (garbled := json.loads(await ws.recv())):
                    pass
            await asyncio.sleep(0.5)
            return [*replies, garbled, await request(ws, "LIST_SUBSCRIPTIONS", 3)]

    invalid_stream, negative_id, unknown_method, garbled, listed = asyncio.run(run())
    # As the exchange sends it (ctubio/Krypto-trading-bot issue 1121) and as documented.
    assert invalid_stream == {
        "error": {"code": 2, "msg": "Invalid request: invalid stream"},
        "id": 1,
    }
    assert negative_id["error"] == {
        "code": 2,
        "msg": "Invalid request: request ID must be an unsigned integer",
    }
    assert (
        unknown_method["error"]["code"] == 2
        and "unknown variant `SUBSCRIBE_ALL`" in unknown_method["error"]["msg"]
    )
    assert garbled["error"]["code"] == 3 and garbled["error"]["msg"].startswith("Invalid JSON")
    assert listed == {"result": ["btcusdt@kline_1m"], "id": 3}
    assert sim.streams.stats["requests_refused"] == 4


def test_a_connection_carries_at_most_1024_streams():
    names = [f"sym{i:04d}usdt@kline_1m" for i in range(1, 1101)]
    with SimulatorServer(extra_symbols=1100) as sim:  # the wall clock: 1,024 streams push every 2 s

        async def run():
            async with open_ws(f"{sim.ws_url}/stream?streams={names[0]}") as ws:
                too_many = await request(ws, "SUBSCRIBE", 1, names[1:1025])  # would make 1,025
                fits = await request(ws, "SUBSCRIBE", 2, names[1:1024])
                listed = await request(ws, "LIST_SUBSCRIPTIONS", 3)
                return too_many, fits, listed

        too_many, fits, listed = asyncio.run(run())
    assert (
        too_many["id"] == 1
        and too_many["error"]["code"] == 2
        and "at most 1024" in too_many["error"]["msg"]
    )
    assert fits == {"result": None, "id": 2}
    assert listed["result"] == names[:1024]


def test_a_symbol_that_is_not_trading_is_silent_and_exchange_info_says_so(sim):
    sim.faults.update(symbol_status={"ETHUSDT": "BREAK"})
    info = httpx.get(f"{sim.url}/api/v3/exchangeInfo", params={"symbol": "ETHUSDT"}).json()
    assert info["symbols"][0]["status"] == "BREAK"
    breaks = httpx.get(f"{sim.url}/api/v3/exchangeInfo", params={"symbolStatus": "BREAK"}).json()
    assert "ETHUSDT" in {entry["symbol"] for entry in breaks["symbols"]}
    url = f"{sim.ws_url}/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
    messages = collect(
        url, lambda ms: sum(m["data"]["k"]["x"] for m in ms) >= 2
    )  # two minutes of BTCUSDT
    assert {m["stream"] for m in messages} == {"btcusdt@kline_1m"}
    sim.faults.update(symbol_status={})  # trading again
    assert collect(url, lambda ms: any(m["stream"] == "ethusdt@kline_1m" for m in ms))
