"""Parsing stream messages: real recorded Binance frames, and every way a frame can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crypto_assets.binance.stream_wire import (
    KlineEvent,
    MalformedFrame,
    Reply,
    ServerShutdown,
    combined_stream_url,
    control_request,
    parse_message,
    stream_name,
    url_and_rest,
)
from crypto_assets.binance.wire import Kline

RECORDED = (
    Path(__file__).resolve().parent.parent / "fixtures" / "ws_kline_BTCUSDT_5m_2021-09-14.jsonl"
)


def test_recorded_binance_frames_parse_to_the_values_sent():
    lines = RECORDED.read_text().splitlines()
    events = [parse_message(line, "5m") for line in lines]
    first = json.loads(lines[0])
    assert events[0] == KlineEvent(
        "BTCUSDT",
        1631637132163,
        Kline(
            1631637000000,
            "46692.06000000",
            "46720.00000000",
            "46658.01000000",
            "46672.98000000",
            "53.38997000",
            1631637299999,
            "2492731.28713130",
            2196,
            "28.76136000",
            "1342722.01811650",
        ),
        False,
    )
    assert first["k"]["c"] == events[0].kline.close
    assert len(events) == len(lines)
    assert all(isinstance(e, KlineEvent) and not e.is_closed for e in events)


def test_a_combined_stream_message_is_unwrapped():
    raw = json.loads(RECORDED.read_text().splitlines()[0])
    wrapped = json.dumps({"stream": "btcusdt@kline_5m", "data": raw})
    assert parse_message(wrapped, "5m") == parse_message(json.dumps(raw), "5m")


@pytest.mark.parametrize(
    "message",
    [
        {"event": {"e": "serverShutdown", "E": 1770123456789}},
        {"e": "serverShutdown", "E": 1770123456789},
        {"stream": "btcusdt@kline_1m", "data": {"e": "serverShutdown", "E": 1770123456789}},
    ],
)
def test_server_shutdown_is_recognised_in_every_wrapping(message):
    assert parse_message(json.dumps(message)) == ServerShutdown(1770123456789)


def _frame(**changes) -> str:
    payload = json.loads(RECORDED.read_text().splitlines()[0])
    payload["k"]["i"] = "1m"
    payload["k"]["t"], payload["k"]["T"] = 1631637000000, 1631637059999
    for key, value in changes.items():
        if key.startswith("k_"):
            payload["k"][key[2:]] = value
        else:
            payload[key] = value
    return json.dumps(payload)


@pytest.mark.parametrize(
    ("text", "reason", "says"),
    [
        ('{"e":"kline","E":1', "not JSON", "not JSON"),
        ("[1, 2]", "not a JSON object", "JSON object"),
        ('{"e":"trade","E":1}', "unexpected event type", "unexpected event type 'trade'"),
        ('{"e":"kline","E":1}', "no candle", "'k'"),
        (_frame(E="soon"), "bad E (event time)", "'E'"),
        (_frame(E=-1), "bad E (event time)", "'E'"),
        (_frame(k_c="NaN"), "bad k.c", "'k.c'"),
        (_frame(k_c="1.0\n"), "bad k.c", "'k.c'"),  # a newline would end the COPY row early
        (_frame(k_o="1.0\t2"), "bad k.o", "'k.o'"),  # a tab would shift every column after it
        (_frame(k_l=" 1.0"), "bad k.l", "'k.l'"),
        (_frame(k_v=12.5), "bad k.v", "'k.v'"),
        (_frame(k_h="1e5"), "bad k.h", "'k.h'"),
        (_frame(k_q="-5.0"), "bad k.q", "'k.q'"),
        (_frame(k_x="maybe"), "bad k.x", "'k.x'"),
        (_frame(k_n=True), "bad k.n", "'k.n'"),
        (_frame(k_n=2**63), "bad k.n", "'k.n'"),  # past bigint
        (_frame(k_t=10**16 * 6, k_T=10**16 * 6 + 59_999), "bad k.t", "'k.t'"),  # past year 9999
        (_frame(k_i="5m"), "wrong interval", "'k.i'"),
        (_frame(k_t=1631637000001), "not a whole candle", "whole 1m candle"),
        (_frame(k_s="ETHUSDT"), "bad s (symbol)", "symbol"),
    ],
)
def test_malformed_frames_are_refused_saying_what_is_wrong(text, reason, says):
    with pytest.raises(MalformedFrame, match=says.replace("(", r"\(")) as refused:
        parse_message(text)
    assert refused.value.reason == reason


def test_a_kline_of_a_symbol_not_subscribed_is_malformed():
    event = parse_message(_frame(), symbols={"BTCUSDT"})
    assert isinstance(event, KlineEvent) and event.symbol == "BTCUSDT"
    with pytest.raises(
        MalformedFrame, match="'BTCUSDT' is not one this connection subscribed to"
    ) as refused:
        parse_message(_frame(), symbols={"ETHUSDT"})
    assert refused.value.reason == "symbol not subscribed"


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        (
            '{"result":null,"id":1}',
            Reply(1, None, None),
        ),  # binance-spot-api-docs, "Subscribe to a stream"
        ('{"result":["btcusdt@aggTrade"],"id":3}', Reply(3, ["btcusdt@aggTrade"], None)),
        # as the exchange sent it to a client (ctubio/Krypto-trading-bot issue 1121)
        (
            '{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":2}',
            Reply(2, None, "code 2: Invalid request: invalid stream"),
        ),
    ],
)
def test_replies_to_control_requests_are_recognised(text, reply):
    assert parse_message(text) == reply


def test_a_subscribe_request_is_binances_json():
    assert json.loads(control_request("SUBSCRIBE", ["btcusdt@kline_1m"], 7)) == {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@kline_1m"],
        "id": 7,
    }


def test_stream_names_and_combined_urls_follow_binance():
    assert stream_name("BTCUSDT") == "btcusdt@kline_1m"
    assert (
        combined_stream_url(
            "wss://data-stream.binance.vision:443/", ["btcusdt@kline_1m", "ethusdt@kline_1m"]
        )
        == "wss://data-stream.binance.vision:443/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
    )


def test_the_url_names_as_many_streams_as_fit_and_leaves_the_rest():
    base = "wss://data-stream.binance.vision:443"
    streams = [stream_name(f"SYM{i:04d}USDT") for i in range(1, 2001)]  # 20 characters each
    url, named = url_and_rest(base, streams, 2000)
    # "wss://data-stream.binance.vision:443/stream?streams=" is 52 characters, then 20 per name and
    # a "/" between names: 52 + 20 + 21 (n - 1) <= 2000 holds up to n = 92 (1,983 characters).
    assert named == 92 and len(url) == 52 + 20 + 21 * 91 == 1983
    assert url.endswith("/sym0092usdt@kline_1m")
    assert url_and_rest(base, streams[:3], 2000) == (combined_stream_url(base, streams[:3]), 3)
