"""Documents as the service reads and writes them: bound to their row, verified on read.

Every write makes a fresh random **write id**, binds it into the document's authenticated
header (docs/FORMAT.md#bound-context) and records it in the document's row; every read expects
exactly the row's write id. So a blob store adversary cannot roll a document back to an earlier
version, or swap in another document, without the read failing with the integrity error. A row
written before format v2 has no write id: its read checks the blob's SHA-256 against the row
before the last frame is released (:class:`DigestCheckedReader`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator

from byok.core.bound_context import BoundContext
from byok.core.stream import Decryption
from byok.errors import IntegrityError
from byok.store.documents import DocumentHead, DocumentReader

__all__ = ["DigestCheckedReader", "OpenDocument", "expected_context", "new_write_id", "source_of"]


def new_write_id() -> str:
    """A fresh write id: ``w_`` and 32 hex digits (128 random bits)."""
    return "w_" + secrets.token_hex(16)


def expected_context(head: DocumentHead) -> BoundContext:
    """The bound context a read of ``head``'s version must find in the blob's header."""
    return BoundContext(head.tenant, head.name, head.write_id)


class DigestCheckedReader:
    """A blob stream that fails at its end unless its size and SHA-256 are the row's.

    For versions written before format v2 (no write id in the header): the frame loop reads to
    the end of the input before it releases the final frame, so a blob that is not the row's
    (an earlier version written back, say) fails before its last plaintext is released.
    """

    def __init__(self, reader: DocumentReader) -> None:
        self._reader = reader
        self._digest = hashlib.sha256()
        self._size = 0

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes; at the end, check size and digest.

        Raises:
            IntegrityError: the blob's size or SHA-256 is not the one recorded in its row.
        """
        data = self._reader.read(size)
        if data:
            self._digest.update(data)
            self._size += len(data)
            return data
        head = self._reader.head
        if self._size != head.size or not hmac.compare_digest(
            self._digest.hexdigest(), head.sha256
        ):
            raise IntegrityError(tenant=head.tenant, operation="document:get")
        return data


def source_of(reader: DocumentReader) -> DocumentReader | DigestCheckedReader:
    """What to decrypt for ``reader``: the blob itself, or digest-checked for pre-v2 rows."""
    return reader if reader.head.write_id is not None else DigestCheckedReader(reader)


class OpenDocument:
    """A document being read: its head and an iterator of verified plaintext chunks."""

    def __init__(self, head: DocumentHead, chunks: Iterator[bytes], close: Callable[[], None]):
        self.head = head
        self.chunks = chunks
        self._close = close

    @property
    def plaintext_size(self) -> int | None:
        """The plaintext length the stored size and the header imply (None: unknown)."""
        if isinstance(self.chunks, Decryption):
            return self.chunks.plaintext_length(self.head.size)
        return None

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
