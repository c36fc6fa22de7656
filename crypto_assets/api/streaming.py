"""A streamed response that always gives its database session back.

The body is a plain iterator doing blocking work (psycopg2, pyarrow); it runs in worker threads,
one chunk at a time, so the event loop stays free and a slow client slows the reads down
instead of piling chunks up in memory. However the response ends (finished, client gone,
database error) ``cleanup`` runs: it closes the iterator and returns the connection to the
pool. A database error after the headers went out cannot become an error status any more: it
is logged and the connection closed without the final chunk, so the client sees a cut download
rather than a short one that looks complete.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from crypto_assets.api.errors import ApiError

_log = logging.getLogger(__name__)
_DONE = object()


async def _in_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    while (chunk := await anyio.to_thread.run_sync(next, chunks, _DONE)) is not _DONE:
        yield chunk


class ThreadedStream(StreamingResponse):
    """Streams ``chunks`` (a blocking iterator) and calls ``cleanup`` at the end, whatever happens."""

    def __init__(self, chunks: Iterator[bytes], cleanup: Callable[[], None], **kwargs):
        super().__init__(_in_threads(chunks), **kwargs)
        self._chunks, self._cleanup = chunks, cleanup

    def _finish(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            self._cleanup()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ApiError as err:
            _log.warning("download of %s cut short: %s", scope.get("path"), err.detail)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._finish)
