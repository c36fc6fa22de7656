"""Bearer tokens when configured, the statement timeout, and the OpenAPI description."""

from __future__ import annotations

import contextlib

import httpx
import psycopg2
import pytest

from crypto_assets.settings import ConfigError, load_settings
from crypto_assets_tests.api.conftest import api_config, serving, write_config

TOKENS = ("first-token-0123456789", "second-token-0123456789")


def test_with_tokens_set_a_request_needs_one(api_market):
    with serving(api_config(api_market.readonly_url, tokens=TOKENS)) as base:
        bare = httpx.get(f"{base}/v1/symbols")
        wrong = httpx.get(
            f"{base}/v1/symbols", headers={"Authorization": "Bearer not-the-token-at-all"}
        )
        right = [
            httpx.get(f"{base}/v1/health", headers={"Authorization": f"Bearer {t}"}) for t in TOKENS
        ]
        docs = [httpx.get(f"{base}/{path}") for path in ("docs", "openapi.json")]
    assert bare.status_code == wrong.status_code == 401
    assert (
        bare.headers["www-authenticate"] == "Bearer"
        and "Authorization: Bearer" in bare.json()["detail"]
    )
    assert [r.status_code for r in right] == [200, 200]
    assert [r.status_code for r in docs] == [200, 200]  # descriptions, no data


def test_tokens_come_from_the_config_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYPTO_CONFIG", str(write_config(tmp_path, api_tokens=list(TOKENS))))
    monkeypatch.delenv("CRYPTO_API_TOKENS", raising=False)
    assert load_settings().api_tokens == TOKENS
    assert "first-token" not in repr(load_settings())
    monkeypatch.setenv("CRYPTO_API_TOKENS", "env-token-0123456789abc, " + TOKENS[0])
    assert load_settings().api_tokens == ("env-token-0123456789abc", TOKENS[0])
    monkeypatch.setenv("CRYPTO_API_TOKENS", "short")
    with pytest.raises(ConfigError, match="CRYPTO_API_TOKENS: token 1 is not at least 16"):
        load_settings()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_query_over_the_statement_timeout_is_a_504_naming_it(fmt, api_market):
    with serving(api_config(api_market.readonly_url, statement_timeout_s=0.5)) as base:
        assert (
            httpx.get(f"{base}/v1/symbols", timeout=30).status_code == 200
        )  # connected, quick queries pass
        with contextlib.closing(psycopg2.connect(api_market.url)) as owner, owner.cursor() as cur:
            cur.execute(
                "LOCK TABLE candles_1h IN ACCESS EXCLUSIVE MODE"
            )  # held until rollback: reads must wait
            try:
                response = httpx.get(
                    f"{base}/v1/candles/BTCUSDT",
                    params={"interval": "1h", "format": fmt},
                    timeout=30,
                )
            finally:
                owner.rollback()
    assert response.status_code == 504
    assert "took too long" in response.json()["detail"] and "0.5 s" in response.json()["detail"]


def test_every_parameter_is_described_with_an_example(client):
    schema = client.get("/openapi.json").json()
    operations = [(path, op) for path, ops in schema["paths"].items() for op in ops.values()]
    assert {path for path, _ in operations} == {
        "/v1/symbols",
        "/v1/candles/{symbol}",
        "/v1/downsampled/{symbol}",
        "/v1/metrics/{symbol}",
        "/v1/live/{symbol}",
        "/v1/live/{symbol}/events",
        "/v1/health",
    }
    for path, op in operations:
        assert op.get("description") and op.get("summary"), path
        for parameter in op.get("parameters", []):
            assert (
                parameter["description"] and parameter["examples"]["example"]["value"] is not None
            ), (path, parameter)
    assert "<title>" in client.get("/docs").text
