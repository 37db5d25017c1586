"""Bridges between the async request/response streams and the service's blocking I/O.

Uploads: :class:`RequestBodyReader` is a binary file-like whose ``readinto`` pulls the next
chunk of the request body from the event loop (``anyio.from_thread``), so
:meth:`Vendor.put_document` streams the body straight into the cipher and the blob store;
at most one received chunk is held at a time, whatever the document size. Passing the
size limit raises :class:`~byok.api.problems.BodyTooLarge` mid-stream: the put then
fails and nothing becomes visible (the blob store removes its temporary file).

Downloads (docs/API.md#integrity-of-downloads): a document up to
``verify_before_send_bytes`` is decrypted and verified whole before the response starts, so
a damaged one is a 422 problem. A larger one is streamed, frame by frame, each frame verified
before it is sent, with ``Content-Length`` set to the exact plaintext length; if a later frame
fails, :func:`verified_stream` raises :class:`DownloadAborted` and
:class:`AbortedDownloadMiddleware` ends the request without completing the body: the server
closes the connection short of ``Content-Length`` (every HTTP client reports an incomplete
body), logs one warning naming the tenant and document, and no traceback (uvicorn's line
about the incomplete response is filtered out for exactly these requests).

Audit export runs the blocking producer in a worker thread and hands bytes to the response
through a small bounded queue (back-pressure: a slow client slows the producer, memory stays
bounded).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from typing import IO

import anyio.from_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from byok.api.problems import BodyTooLarge
from byok.errors import ByokError

__all__ = [
    "DEFAULT_VERIFY_BEFORE_SEND_BYTES",
    "AbortedDownloadMiddleware",
    "DownloadAborted",
    "RequestBodyReader",
    "iter_text_writer",
    "verified_stream",
]

#: Documents stored in at most this many bytes are verified whole before the response starts.
DEFAULT_VERIFY_BEFORE_SEND_BYTES = 1024 * 1024
_log = logging.getLogger("byok.api.downloads")
_ABORTED: ContextVar[bool] = ContextVar("byok_download_aborted", default=False)
_UVICORN_INCOMPLETE = "ASGI callable returned without completing response"


class DownloadAborted(Exception):
    """A streamed download failed after its response started (a later frame did not verify).

    Deliberately not a :class:`ByokError`: no problem handler may try to answer (the status
    line is out); :class:`AbortedDownloadMiddleware` ends the request instead.
    """


def verified_stream(
    chunks: Iterator[bytes], close: Callable[[], None], tenant: str, document: str
) -> Iterator[bytes]:
    """Yield verified plaintext chunks; on an integrity (or key) failure, log once and abort.

    Raises:
        DownloadAborted: a chunk failed after the response started.
    """
    try:
        yield from chunks
    except ByokError as exc:
        _log.warning(
            "download aborted: tenant=%s document=%r error=%s", tenant, document,
            type(exc).__name__,
        )  # fmt: skip
        raise DownloadAborted(type(exc).__name__) from None
    finally:
        close()


def _is_abort(exc: BaseException) -> bool:
    if isinstance(exc, DownloadAborted):
        return True
    if isinstance(exc, BaseExceptionGroup):  # raised from a task group (Starlette streaming)
        return all(_is_abort(inner) for inner in exc.exceptions)
    return False


class AbortedDownloadMiddleware:
    """Pure ASGI middleware: a :class:`DownloadAborted` ends the request quietly.

    The response is left incomplete, so the server closes the connection before
    ``Content-Length`` bytes were sent. The warning was logged by :func:`verified_stream`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        _install_uvicorn_filter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            if not _is_abort(exc):
                raise
            _ABORTED.set(True)  # read by the filter below, in this request's task


class _ExpectedAbortFilter(logging.Filter):
    """Drop uvicorn's "returned without completing response" for an aborted download only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_ABORTED.get() and str(record.msg).startswith(_UVICORN_INCOMPLETE))


def _install_uvicorn_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ExpectedAbortFilter) for f in logger.filters):
        logger.addFilter(_ExpectedAbortFilter())


class RequestBodyReader:
    """A blocking binary reader over an async body stream (use from a worker thread only).

    Args:
        chunks: the request's body stream (``request.stream()``).
        limit: the most bytes allowed; more raises :class:`BodyTooLarge`.
    """

    def __init__(self, chunks: AsyncIterator[bytes], limit: int) -> None:
        self._chunks = chunks
        self._limit = limit
        self._pending = memoryview(b"")
        self._done = False
        self.received = 0

    def readinto(self, buffer: memoryview | bytearray) -> int:
        """Fill ``buffer`` with the next bytes.

        Returns:
            The number of bytes written (0 only at the end of the body).

        Raises:
            BodyTooLarge: the body passed the limit.
        """
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._pending and not self._fetch():
                break
            n = min(len(view) - filled, len(self._pending))
            view[filled : filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all that is left when negative)."""
        if size is None or size < 0:
            parts = [bytes(self._pending)]
            self._pending = memoryview(b"")
            while self._fetch():
                parts.append(bytes(self._pending))
                self._pending = memoryview(b"")
            return b"".join(parts)
        out = bytearray(size)
        return bytes(out[: self.readinto(out)])

    def _fetch(self) -> bool:
        if self._done:
            return False
        chunk = anyio.from_thread.run(_next_chunk, self._chunks)
        if chunk is None:
            self._done = True
            return False
        self.received += len(chunk)
        if self.received > self._limit:
            self._done = True
            raise BodyTooLarge(self._limit)
        self._pending = memoryview(chunk)
        return True


async def _next_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    while True:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return None
        if chunk:
            return chunk


class _QueueWriter:
    """A text sink that hands each write to a bounded queue (blocks when it is full)."""

    def __init__(self, out: queue.Queue[str | BaseException | None], stop: threading.Event):
        self._out = out
        self._stop = stop

    def write(self, text: str) -> int:
        while not self._stop.is_set():
            try:
                self._out.put(text, timeout=0.5)
                return len(text)
            except queue.Full:
                continue
        raise _Abandoned()

    def flush(self) -> None:
        """Nothing to flush."""


class _Abandoned(Exception):
    """The reader went away (client disconnected); the producer stops."""


def iter_text_writer(produce: Callable[[IO[str]], object], *, depth: int = 64) -> Iterator[bytes]:
    """Run ``produce(sink)`` in a thread and yield what it writes, UTF-8 encoded.

    Closing the iterator early (client gone) stops the producer at its next write.

    Yields:
        Encoded chunks, in order.

    Raises:
        Exception: whatever ``produce`` raised (after the chunks written before it).
    """
    items: queue.Queue[str | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            produce(_QueueWriter(items, stop))  # type: ignore[arg-type]
            _put(items, None, stop)
        except _Abandoned:
            return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _put(items, exc, stop)

    worker = threading.Thread(target=run, name="byok-api-export", daemon=True)
    worker.start()
    try:
        done = False
        while not done:
            texts, end = _drain(items)
            if texts:
                yield "".join(texts).encode("utf-8")
            if isinstance(end, BaseException):
                raise end
            done = end is _END
    finally:
        stop.set()
        worker.join(timeout=5)


_END = object()


def _drain(
    items: queue.Queue[str | BaseException | None], most: int = 256
) -> tuple[list[str], object]:
    """Wait for one item, then take what else is ready (up to ``most``) in one batch.

    Returns:
        The texts and what ended the batch: None (more may come), ``_END`` or an exception.
    """
    texts: list[str] = []
    item = items.get()
    while True:
        if item is None:
            return texts, _END
        if isinstance(item, BaseException):
            return texts, item
        texts.append(item)
        if len(texts) >= most:
            return texts, None
        try:
            item = items.get_nowait()
        except queue.Empty:
            return texts, None


def _put(
    items: queue.Queue[str | BaseException | None],
    item: str | BaseException | None,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            items.put(item, timeout=0.5)
            return
        except queue.Full:
            continue
