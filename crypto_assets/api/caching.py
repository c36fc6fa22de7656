"""HTTP caching: ``Cache-Control`` by whether the data can still change, ETags, 304 answers.

Closed data (a range that ends by today's UTC midnight) may be kept for ``CLOSED_MAX_AGE_S``
(an hour: a finished day can still be repaired by a backfill); anything else is "no-cache"
(keep it, but ask again). Either way the response has an ETag, and a request whose
``If-None-Match`` holds it gets 304 without a body. JSON bodies are hashed (a strong ETag);
streamed bodies cannot be hashed before they are sent, so theirs is a weak ETag of a summary of
the rows (``export.fingerprint``) and the request.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time

from fastapi import Request, Response

CLOSED_MAX_AGE_S = 3600
NO_STORE = {"Cache-Control": "no-store"}
"""For answers that are only true right now (live data, health)."""


def is_closed(end: datetime | None, now: datetime | None = None) -> bool:
    """True when the range ends by today's midnight (UTC): only finished days."""
    today = datetime.combine((now or datetime.now(UTC)).date(), time.min, tzinfo=UTC)
    return end is not None and end <= today


def cache_control(closed: bool) -> str:
    return f"max-age={CLOSED_MAX_AGE_S}" if closed else "no-cache"


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def weak_etag(*parts) -> str:
    return 'W/"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


def matches(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks for GET)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    mine = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == mine for tag in header.split(","))


def not_modified(headers: dict[str, str]) -> Response:
    return Response(status_code=304, headers=headers)
