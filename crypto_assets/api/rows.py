"""One symbol's rows of a series table as the client asked: a JSON page or a streamed download.

JSON: at most ``limit`` rows (default 1,000) and ``next_cursor`` when more follow; the body is
hashed for a strong ETag. CSV, Arrow and Parquet: the whole range (or
``limit`` rows) in batches, with a weak ETag from a summary of the rows read in the same
snapshot as the rows themselves. Both carry ``Cache-Control`` by whether the range is closed,
and a request that already holds the ETag gets 304.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from datetime import datetime

import psycopg2
from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from crypto_assets.api import caching
from crypto_assets.api.formats import BODIES, CSV_BATCHES, EXTENSIONS, MEDIA_TYPES, json_rows
from crypto_assets.api.params import JSON_LIMIT, decode_cursor, encode_cursor
from crypto_assets.api.streaming import ReadAhead, ThreadedStream
from crypto_assets.warehouse.queries import export


def serve_rows(
    request: Request,
    selection: export.Selection,
    *,
    envelope: dict,
    rows_name: str,
    fmt: str,
    limit: int | None,
    cursor: str | None,
    end: datetime | None,
) -> Response:
    """The response for ``selection``; ``envelope`` heads a JSON page, whose rows go under ``rows_name``."""
    key = decode_cursor(cursor, selection.series.date_keyed)
    if key is not None:
        selection = selection.after(key)
    headers = {"Cache-Control": caching.cache_control(caching.is_closed(end))}
    if fmt == "json":
        return _json_page(request, selection, envelope, rows_name, limit or JSON_LIMIT, headers)
    return _download(
        request, selection, fmt, limit, headers, filename=_filename(selection, envelope, fmt)
    )


def _json_page(
    request: Request,
    selection: export.Selection,
    envelope: dict,
    rows_name: str,
    limit: int,
    headers: dict,
) -> Response:
    batch_rows = request.app.state.config.batch_rows
    with request.app.state.warehouse.snapshot() as conn, conn.cursor() as cur:
        batches = list(
            export.copy_batches(
                cur, selection, for_csv=True, limit=limit + 1, batch_rows=batch_rows
            )
        )
    rows, next_key = json_rows(selection.series, batches, limit)
    next_cursor = None if next_key is None else encode_cursor(next_key)
    head = json.dumps(envelope)[:-1].encode()
    body = (
        head
        + f', "{rows_name}": '.encode()
        + rows
        + f', "next_cursor": {json.dumps(next_cursor)}}}'.encode()
    )
    headers["ETag"] = caching.strong_etag(body)
    if caching.matches(request, headers["ETag"]):
        return caching.not_modified(headers)
    return Response(body, media_type=MEDIA_TYPES["json"], headers=headers)


def _download(
    request: Request,
    selection: export.Selection,
    fmt: str,
    limit: int | None,
    headers: dict,
    filename: str,
) -> Response:
    warehouse, config = request.app.state.warehouse, request.app.state.config
    stack = ExitStack()
    try:
        conn = stack.enter_context(warehouse.snapshot())
        with conn.cursor() as cur:
            summary = export.fingerprint(cur, selection)
        headers["ETag"] = caching.weak_etag(request.url.path, str(request.url.query), summary)
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        if caching.matches(request, headers["ETag"]) or request.method == "HEAD":
            stack.close()
            if request.method == "HEAD":  # the GET's headers (a chunked body), without the body
                return StreamingResponse(iter(()), headers=headers, media_type=MEDIA_TYPES[fmt])
            return caching.not_modified(headers)
    except BaseException:
        if not stack.__exit__(
            *sys.exc_info()
        ):  # the snapshot turns a database error into its answer (503/504)
            raise

    def batches():
        with conn.cursor() as cur:
            try:
                yield from export.copy_batches(
                    cur,
                    selection,
                    for_csv=CSV_BATCHES[fmt],
                    limit=limit,
                    batch_rows=config.batch_rows,
                )
            except psycopg2.Error as err:
                raise warehouse.explain(err) from None

    def stages() -> list[ReadAhead]:  # PostgreSQL reads, conversion and sending overlap
        read = ReadAhead(batches())
        return [read, ReadAhead(BODIES[fmt](selection.series, read))]

    return ThreadedStream(stages, stack.close, media_type=MEDIA_TYPES[fmt], headers=headers)


def _filename(selection: export.Selection, envelope: dict, fmt: str) -> str:
    """e.g. BTCUSDT_1m_2024-03-01_2024-03-02.csv (the envelope's interval or width, the bounds)."""
    parts = [selection.symbol, *(str(v) for k, v in envelope.items() if k != "symbol")]
    parts += [
        f"{bound:%Y-%m-%d}" if bound is not None else "all"
        for bound in (selection.lo, selection.hi)
    ]
    return "_".join(parts) + "." + EXTENSIONS[fmt]
