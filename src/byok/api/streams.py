"""Bridges between the async request/response streams and the service's blocking I/O.

Uploads: :class:`RequestBodyReader` is a binary file-like whose ``readinto`` pulls the next
chunk of the request body from the event loop (``anyio.from_thread``), so
:meth:`Vendor.put_document` streams the body straight into the cipher and the blob store;
at most one received chunk is held at a time, whatever the document size. Passing the
size limit raises :class:`~byok.api.problems.BodyTooLarge` mid-stream: the put then
fails and nothing becomes visible (the blob store removes its temporary file).

Downloads and audit export run the blocking producer in a worker thread and hand bytes
to the response through a small bounded queue (back-pressure: a slow client slows the
producer, memory stays bounded).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO

import anyio.from_thread

from byok.api.problems import BodyTooLarge

__all__ = ["RequestBodyReader", "iter_text_writer"]


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
