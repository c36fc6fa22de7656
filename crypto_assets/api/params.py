"""The request parameters: their OpenAPI description and example, and their checks.

``start`` and ``end`` take a date (``2024-03-01``, midnight UTC) or an ISO 8601 time
(``2024-03-01T12:00:00Z``, ``2024-03-01T14:00:00+02:00``; UTC when it has no zone); the range
is ``[start, end)``. A ``cursor`` is opaque to clients: the ``next_cursor`` of a JSON page,
to be sent back with the same parameters for the following page.
"""

from __future__ import annotations

import base64
import binascii
import difflib
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import Path, Query

from crypto_assets.api.errors import ApiError, bad_parameter

MAX_LIMIT = 10_000
JSON_LIMIT = 1_000


def _described(kind, description: str, example, **checks):
    """``Query``/``Path`` with a description and one example, both where OpenAPI tools look
    (the schema's ``examples`` and the parameter's ``examples``)."""
    return kind(
        description=description,
        examples=[example],
        openapi_examples={"example": {"value": example}},
        **checks,
    )


SymbolPath = Annotated[
    str,
    _described(
        Path,
        "A symbol of the platform's config, in Binance's spelling (see /v1/symbols).",
        "BTCUSDT",
    ),
]
Start = Annotated[
    str | None,
    _described(
        Query,
        "First time of the range (inclusive): YYYY-MM-DD (midnight UTC) or ISO 8601 with a zone "
        "(UTC when none; write + as %2B). Default: the first row there is.",
        "2024-03-01",
    ),
]
End = Annotated[
    str | None,
    _described(
        Query,
        "End of the range (exclusive), like start: end=2024-03-02 includes all of 2024-03-01. "
        "Default: up to the newest row.",
        "2024-03-02T00:00:00Z",
    ),
]
Limit = Annotated[
    int | None,
    _described(
        Query,
        f"Most rows to return, 1..{MAX_LIMIT}. JSON pages default to {JSON_LIMIT} and carry next_cursor "
        "when more rows follow; csv, arrow and parquet stream the whole range unless limited.",
        500,
        ge=1,
        le=MAX_LIMIT,
    ),
]
Cursor = Annotated[
    str | None,
    _described(
        Query,
        "next_cursor of the previous JSON page (same other parameters): continues where it stopped.",
        "MjAyNC0wMy0wMVQxNjo0MDowMC4wMDBa",
    ),
]
Format = Annotated[
    Literal["json", "csv", "arrow", "parquet"],
    _described(
        Query,
        "json (pages), or a stream of the whole range: csv (header row, same names and values as JSON), "
        "arrow (Arrow IPC stream) or parquet. Decimals are exact decimal strings in every format.",
        "csv",
    ),
]
Interval = Annotated[
    Literal["1m", "15m", "1h", "1d"],
    _described(
        Query,
        "Candle width: 1m (candles_1m, adds is_closed and source), 15m (candles_15m), 1h and 1d "
        "(candles_1h, candles_1d, add vwap, source_candles, is_complete, source_interval).",
        "1h",
    ),
]
Width = Annotated[
    str | None,
    _described(
        Query,
        "Window width of price_downsampled, one of the config's downsample_windows. Default: the first.",
        "1m",
    ),
]
Window = Annotated[
    Literal["1d", "7d", "30d"],
    _described(
        Query,
        "How far back missing candles are counted.",
        "7d",
    ),
]


def check_symbol(symbol: str, configured: tuple[str, ...]) -> str:
    """``symbol`` when configured, else a 404 naming it, the configured ones and a likely match."""
    if symbol in configured:
        return symbol
    hint = difflib.get_close_matches(symbol.upper(), configured, n=1)
    suggestion = f" (did you mean {hint[0]}?)" if hint else ""
    raise ApiError(
        404,
        f"symbol {symbol!r} is not configured{suggestion}; configured: {', '.join(configured)}",
        parameter="symbol",
        allowed=configured,
    )


def parse_time(name: str, text: str | None) -> datetime | None:
    """A date or ISO 8601 time as an aware UTC datetime (UTC assumed without a zone)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        hint = " (a + in a URL reads as a space: write it as %2B)" if " " in text.strip() else ""
        raise bad_parameter(
            name,
            f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time like "
            f"2024-03-01T12:00:00Z{hint}",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def time_range(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """[start, end) from the query; 422 when it is empty or reversed."""
    lo, hi = parse_time("start", start), parse_time("end", end)
    if lo is not None and hi is not None and hi <= lo:
        raise bad_parameter(
            "end",
            f"{hi:%Y-%m-%dT%H:%M:%SZ} is not after start ({lo:%Y-%m-%dT%H:%M:%SZ}); the range is "
            "[start, end), so end=2024-03-02 includes all of 2024-03-01",
        )
    return lo, hi


def encode_cursor(key: str) -> str:
    """The cursor of the row whose key (time or day) has this ISO 8601 text."""
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(text: str | None, date_keyed: bool) -> datetime | date | None:
    """The key a cursor resumes at; 422 for anything this API did not issue for such rows."""
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        key = date.fromisoformat(raw) if date_keyed else datetime.fromisoformat(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_parameter(
            "cursor",
            f"{text!r} is not a cursor of this endpoint: send back next_cursor "
            "from the previous page unchanged",
        ) from None
    if isinstance(key, datetime) and key.tzinfo is None:
        raise bad_parameter("cursor", f"{text!r} is not a cursor of this endpoint")
    return key
