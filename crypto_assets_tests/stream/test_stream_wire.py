"""Parsing stream messages: real recorded Binance frames, and every way a frame can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crypto_assets.binance.stream_wire import (
    KlineEvent,
    MalformedFrame,
    ServerShutdown,
    combined_stream_url,
    parse_message,
    stream_name,
)
from crypto_assets.binance.wire import Kline

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "ws_kline_BTCUSDT_5m_2021-09-14.jsonl"


def test_recorded_binance_frames_parse_to_the_values_sent():
    lines = RECORDED.read_text().splitlines()
    events = [parse_message(line, "5m") for line in lines]
    first = json.loads(lines[0])
    assert events[0] == KlineEvent(
        "BTCUSDT",
        1631637132163,
        Kline(1631637000000, "46692.06000000", "46720.00000000", "46658.01000000", "46672.98000000", "53.38997000",
              1631637299999, "2492731.28713130", 2196, "28.76136000", "1342722.01811650"),
        False,
    )
    assert first["k"]["c"] == events[0].kline.close
    assert len(events) == len(lines) and all(not e.is_closed for e in events)


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
    ("text", "says"),
    [
        ('{"e":"kline","E":1', "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"e":"trade","E":1}', "unexpected event type 'trade'"),
        ('{"e":"kline","E":1}', "'k'"),
        (_frame(E="soon"), "'E'"),
        (_frame(k_c="NaN"), "'k.c'"),
        (_frame(k_v=12.5), "'k.v'"),
        (_frame(k_h="1e5"), "'k.h'"),
        (_frame(k_x="maybe"), "'k.x'"),
        (_frame(k_n=True), "'k.n'"),
        (_frame(k_i="5m"), "'k.i'"),
        (_frame(k_t=1631637000001), "whole 1m candle"),
        (_frame(k_s="ETHUSDT"), "symbol"),
    ],
)
def test_malformed_frames_are_refused_saying_what_is_wrong(text, says):
    with pytest.raises(MalformedFrame, match=says.replace("(", r"\(")):
        parse_message(text)


def test_stream_names_and_combined_urls_follow_binance():
    assert stream_name("BTCUSDT") == "btcusdt@kline_1m"
    assert combined_stream_url("wss://data-stream.binance.vision:443/", ["btcusdt@kline_1m", "ethusdt@kline_1m"]) == \
        "wss://data-stream.binance.vision:443/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m"
