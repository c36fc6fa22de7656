"""Bad input: 422 or 404 with a JSON body naming the parameter and what it accepts; never a
500 or a traceback. Anything but GET and HEAD: 405."""

from __future__ import annotations

import pytest

BAD = [
    # (path, params, status, parameter, words the message must hold)
    ("/v1/candles/BTCUSDT", {"interval": "2h"}, 422, "interval", ["2h"]),
    ("/v1/candles/BTCUSDT", {"format": "xml"}, 422, "format", ["xml"]),
    ("/v1/candles/BTCUSDT", {"start": "yesterday"}, 422, "start", ["yesterday", "YYYY-MM-DD"]),
    ("/v1/candles/BTCUSDT", {"end": "2025-13-01"}, 422, "end", ["2025-13-01"]),
    (
        "/v1/candles/BTCUSDT",
        {"start": "2025-03-02", "end": "2025-03-01"},
        422,
        "end",
        ["not after start"],
    ),
    (
        "/v1/candles/BTCUSDT",
        {"start": "2025-03-01", "end": "2025-03-01"},
        422,
        "end",
        ["not after start"],
    ),
    ("/v1/candles/BTCUSDT", {"start": "2025-03-01T00:00:00 02:00"}, 422, "start", ["%2B"]),
    ("/v1/candles/BTCUSDT", {"limit": "0"}, 422, "limit", ["greater than or equal to 1"]),
    ("/v1/candles/BTCUSDT", {"limit": "10001"}, 422, "limit", ["less than or equal to 10000"]),
    ("/v1/candles/BTCUSDT", {"limit": "many"}, 422, "limit", ["many"]),
    ("/v1/candles/BTCUSDT", {"cursor": "not-a-cursor"}, 422, "cursor", ["next_cursor"]),
    (
        "/v1/metrics/BTCUSDT",
        {"cursor": "MjAyNS0wMy0wOFQwMjowMDowMCswMDowMA"},
        422,
        "cursor",
        [],
    ),  # a candles cursor
    ("/v1/downsampled/BTCUSDT", {"width": "2m"}, 422, "width", ["2m"]),
    (
        "/v1/downsampled/BTCUSDT",
        {"format": "json", "start": "2025-02-30"},
        422,
        "start",
        ["2025-02-30"],
    ),
    ("/v1/metrics/BTCUSDT", {"format": "parquet", "limit": "-5"}, 422, "limit", []),
    ("/v1/health", {"window": "2d"}, 422, "window", ["2d"]),
    ("/v1/candles/DOGEUSDT", {}, 404, "symbol", ["DOGEUSDT", "BTCUSDT, ETHUSDT"]),
    ("/v1/candles/btcusdt", {}, 404, "symbol", ["did you mean BTCUSDT"]),
    ("/v1/downsampled/XYZ", {}, 404, "symbol", ["XYZ"]),
    ("/v1/metrics/XYZ", {"format": "csv"}, 404, "symbol", ["XYZ"]),
    ("/v1/live/XYZ", {}, 404, "symbol", ["XYZ"]),
    ("/v1/live/XYZ/events", {}, 404, "symbol", ["XYZ"]),
]
ALLOWED = {
    "interval": ["1m", "15m", "1h", "1d"],
    "format": ["json", "csv", "arrow", "parquet"],
    "width": ["1m", "5m"],
    "window": ["1d", "7d", "30d"],
    "symbol": ["BTCUSDT", "ETHUSDT"],
}


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter", "words"), BAD, ids=[f"{p} {q}" for p, q, *_ in BAD]
)
def test_bad_input_is_named_with_what_is_allowed(path, params, status, parameter, words, client):
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["parameter"] == parameter and body["detail"].startswith(
        (parameter, f"{parameter} ")
    )
    assert all(word in body["detail"] for word in words), body["detail"]
    if parameter in ALLOWED:
        assert body["allowed"] == ALLOWED[parameter]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize(
    "path", ["/v1/candles/BTCUSDT", "/v1/symbols", "/v1/health", "/v1/live/BTCUSDT/events"]
)
def test_the_api_is_read_only(method, path, client):
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert "read-only" in response.json()["detail"]


def test_an_unknown_path_is_a_json_404(client):
    response = client.get("/v2/candles/BTCUSDT")
    assert response.status_code == 404 and "/v2/candles/BTCUSDT" in response.json()["detail"]


@pytest.mark.parametrize("params", [{"format": "json"}, {"format": "csv"}, {"format": "parquet"}])
def test_head_answers_the_get_headers_without_a_body(params, client):
    query = {"interval": "1h", "start": "2025-03-08", "end": "2025-03-09", **params}
    got, head = (
        client.get("/v1/candles/BTCUSDT", params=query),
        client.head("/v1/candles/BTCUSDT", params=query),
    )
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "cache-control", "content-type"):
        assert head.headers[name] == got.headers[name]
