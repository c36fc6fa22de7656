"""Streamed responses that read ahead while they send, and always give their session back.

A download is a pipeline of blocking stages (PostgreSQL's COPY batches, then pyarrow's
conversion), each run by ``ReadAhead`` on its own thread with a queue of ``READ_AHEAD`` chunks
towards the next stage: PostgreSQL writes the next batch while the current one is converted and
the one before is on the wire, and a slow client slows every stage down instead of piling
chunks up. Memory holds a few chunks per stage, whatever the range.

However the response ends (finished, client gone, database error) ``cleanup`` runs once every
stage has stopped: it returns the connection to the pool. A database error after the headers
went out cannot become an error status any more: it is logged and the connection closed
without the final chunk, so the client sees a cut download rather than a short one that looks
complete.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.to_thread
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from crypto_assets.api.errors import ApiError

_log = logging.getLogger(__name__)
READ_AHEAD = 1
_DONE = object()


class ReadAhead:
    """Iterates ``chunks`` on its own thread, at most ``READ_AHEAD`` chunks ahead of the reader."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._queue: queue.Queue = queue.Queue(READ_AHEAD)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for chunk in self._chunks:
                self._queue.put(chunk)
                if self._stopping.is_set():
                    return
            self._queue.put(_DONE)
        except BaseException as err:  # noqa: BLE001 - handed to the reader, which raises it
            self._queue.put(err)
        finally:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> ReadAhead:
        return self

    def __next__(self):
        item = self._queue.get()
        if item is _DONE:
            self._queue.put(_DONE)  # later calls end too
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Stop and wait for the thread: once the queue is emptied, the thread's next ``put``
        cannot block, and it returns right after it."""
        self._stopping.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join()


class ThreadedStream(StreamingResponse):
    """Streams the last stage of a pipeline and, at the end whatever happens, stops every stage
    (``stages``, last first) and calls ``cleanup``. ``make_stages`` builds them when sending starts."""

    def __init__(
        self, make_stages: Callable[[], list[ReadAhead]], cleanup: Callable[[], None], **kwargs
    ):
        self._make_stages, self._cleanup = make_stages, cleanup
        self._stages: list[ReadAhead] = []
        super().__init__(self._chunks(), **kwargs)

    async def _chunks(self) -> AsyncIterator[bytes]:
        last = self._stages[-1]
        while (chunk := await anyio.to_thread.run_sync(next, last, _DONE)) is not _DONE:
            assert isinstance(chunk, bytes)  # the stages' chunks are bytes
            yield chunk

    def _finish(self) -> None:
        try:
            for stage in reversed(self._stages):
                stage.stop()
        finally:
            self._cleanup()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._stages = self._make_stages()
            await super().__call__(scope, receive, send)
        except ApiError as err:
            _log.warning("download of %s cut short: %s", scope.get("path"), err.detail)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._finish)
