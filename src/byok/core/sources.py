"""Sources and sinks of the streaming API (:mod:`byok.core.stream`).

A *source* is a binary file-like (``readinto`` is used when present, so frames are read
without a copy; else ``read``), a bytes-like object, or an iterable of bytes-like chunks. A
*sink* is anything with ``write``; a short write (``io.RawIOBase``) is completed by looping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, runtime_checkable

from byok.core.format import MAX_HEADER_BYTES, Header, parse_header
from byok.errors import InvalidInput

__all__ = ["Buffer", "Readable", "Reader", "Source", "Writable", "byte_view", "writer"]

Buffer = bytes | bytearray | memoryview


@runtime_checkable
class Readable(Protocol):
    """A binary file-like source (``readinto`` is used when present, for zero copies)."""

    def read(self, size: int = -1, /) -> bytes: ...


@runtime_checkable
class Writable(Protocol):
    """A binary sink; ``write`` must consume (copy or send) the data before it returns."""

    def write(self, data: bytes | bytearray | memoryview, /) -> object: ...


Source = Readable | Buffer | Iterable[Buffer]


class Reader:
    """Fills buffers from any :data:`Source` until they are full or the input ends.

    Raises:
        InvalidInput: (field ``source``) not a supported source.
    """

    __slots__ = ("_chunks", "_pending", "_pushback", "_read", "_readinto")

    def __init__(self, source: Source) -> None:
        self._readinto: Callable[[memoryview], int | None] | None = None
        self._read: Callable[[int], bytes] | None = None
        self._chunks: Iterator[Buffer] | None = None
        self._pending = memoryview(b"")
        self._pushback = memoryview(b"")  # read past the header, served before anything else
        if isinstance(source, bytes | bytearray | memoryview):
            self._pending = byte_view(source, "source")
        elif hasattr(source, "readinto"):
            self._readinto = source.readinto
        elif isinstance(source, Readable):
            self._read = source.read
        elif isinstance(source, Iterable):
            self._chunks = iter(source)
        else:
            raise InvalidInput(
                "source", "must be a binary file-like, bytes or an iterable of bytes"
            )

    def fill(self, buf: memoryview) -> int:
        """Fill ``buf``; returns how many bytes were written (fewer only at end of input)."""
        filled, size = 0, len(buf)
        while filled < size:
            got = self._next_into(buf[filled:])
            if got == 0:
                break
            filled += got
        return filled

    def read_header(self) -> Header:
        """Parse the header (docs/FORMAT.md#header); bytes read past it are kept for frames."""
        buf = bytearray(MAX_HEADER_BYTES)
        head = memoryview(buf)[: self.fill(memoryview(buf))]
        header = parse_header(head)
        self._pushback = memoryview(bytes(head[header.size :]))
        return header

    def _next_into(self, buf: memoryview) -> int:
        if self._pushback:
            n = min(len(buf), len(self._pushback))
            buf[:n] = self._pushback[:n]
            self._pushback = self._pushback[n:]
            return n
        if self._pending:
            n = min(len(buf), len(self._pending))
            buf[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            return n
        if self._readinto is not None:
            got = self._readinto(buf)
            if got is None:
                raise InvalidInput("source", "non-blocking sources are not supported")
            return got
        if self._read is not None:
            data = self._read(len(buf))
            if len(data) > len(buf):
                raise InvalidInput("source", "read() returned more bytes than asked for")
            buf[: len(data)] = data
            return len(data)
        while self._chunks is not None:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._chunks = None
            elif chunk:
                self._pending = byte_view(chunk, "source")
                return self._next_into(buf)
        return 0


def byte_view(data: object, field: str) -> memoryview:
    """A flat unsigned-byte view of a bytes-like object.

    Raises:
        InvalidInput: ``field`` is not bytes-like.
    """
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInput(field, "must be bytes-like") from None
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def writer(sink: Writable) -> Callable[[memoryview | bytes], None]:
    """A function writing all of its argument to ``sink``.

    Raises:
        InvalidInput: (field ``sink``) ``sink`` has no ``write``.
    """
    if not isinstance(sink, Writable):
        raise InvalidInput("sink", "must have a write() method")
    write = sink.write

    def write_all(data: memoryview | bytes) -> None:
        # A raw file may write less than asked (io.RawIOBase.write); loop until all is out.
        view = memoryview(data)
        while view:
            written = write(view)
            if not isinstance(written, int) or written >= len(view):
                return
            view = view[written:]

    return write_all
