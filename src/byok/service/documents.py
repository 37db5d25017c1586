"""An open document being read: its stored head and verified plaintext chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from byok.store.documents import DocumentHead

__all__ = ["OpenDocument"]


class OpenDocument:
    """A document being read: its head and an iterator of verified plaintext chunks."""

    def __init__(self, head: DocumentHead, chunks: Iterator[bytes], close: Callable[[], None]):
        self.head = head
        self.chunks = chunks
        self._close = close

    def read_all(self) -> bytes:
        """Read and return the whole plaintext (small documents), then close."""
        try:
            return b"".join(self.chunks)
        finally:
            self.close()

    def close(self) -> None:
        """Release the stored ciphertext stream."""
        self._close()

    def __enter__(self) -> OpenDocument:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
