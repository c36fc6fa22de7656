"""Optional bearer tokens (``api_tokens`` in the config, or ``CRYPTO_API_TOKENS``).

Without tokens the API is open (fine on localhost). With tokens, every /v1 request needs
``Authorization: Bearer <token>`` with one of them, else 401; /docs and /openapi.json stay
open (they describe the API, they hold no data). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crypto_assets.api.errors import ApiError

bearer = HTTPBearer(
    auto_error=False, description="One of the config's api_tokens (only when any are set)."
)


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    tokens = request.app.state.config.tokens
    if not tokens:
        return
    given = credentials.credentials.encode() if credentials else b""
    if not any(hmac.compare_digest(given, token.encode()) for token in tokens):
        reason = "a bearer token" if credentials is None else "a valid bearer token"
        raise ApiError(
            401,
            f"this API requires {reason}: send Authorization: Bearer <token> "
            "with one of the config's api_tokens",
            parameter="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
