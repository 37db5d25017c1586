"""Value types of the document store: heads, pages, open readers; names and list cursors.

Names are 1-1,024 characters without control characters or lone surrogates. They sort by
code point on every backend (``byok.store.schema``), which is what makes the prefix range of
:func:`prefix_upper_bound` and the list cursors exact.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import BinaryIO

from byok.errors import InvalidInput
from byok.store.schema import DocumentRow

__all__ = [
    "MAX_LIST_LIMIT",
    "MAX_NAME_LENGTH",
    "DocumentHead",
    "DocumentPage",
    "DocumentReader",
    "decode_cursor",
    "encode_cursor",
    "prefix_upper_bound",
    "validate_document_name",
]

MAX_NAME_LENGTH = 1024
MAX_LIST_LIMIT = 1000
_CURSOR_TAG = b"byok-list-v1:"


@dataclass(frozen=True)
class DocumentHead:
    """What the store knows about the visible version of a document.

    Attributes:
        tenant: the tenant id.
        name: the document name.
        generation: this version's generation (unique; higher is newer).
        size: stored (ciphertext) size in bytes.
        sha256: SHA-256 (hex) of the stored bytes.
        tk_id: the tenant key the bytes are encrypted under, if the caller said.
        created_at: when the name was first written.
        updated_at: when this version was committed.
    """

    tenant: str
    name: str
    generation: int
    size: int
    sha256: str
    tk_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: DocumentRow) -> DocumentHead:
        """Build from a ``documents`` row."""
        return cls(
            row.tenant_id, row.name, row.id, row.size, row.sha256, row.tk_id,
            row.created_at, row.updated_at,
        )  # fmt: skip


@dataclass(frozen=True)
class DocumentPage:
    """One page of :meth:`DocumentRepository.list`; pass ``next_cursor`` for the next one."""

    items: tuple[DocumentHead, ...]
    next_cursor: str | None


class DocumentReader:
    """An open document: its :attr:`head` and a binary :attr:`stream`. Close it (or ``with``)."""

    def __init__(self, head: DocumentHead, stream: BinaryIO) -> None:
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all when negative); ``b""`` at the end."""
        return self.stream.read(size)

    def close(self) -> None:
        """Release the underlying blob stream."""
        self.stream.close()

    def __enter__(self) -> DocumentReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def validate_document_name(name: object, *, field: str = "name") -> str:
    """Return ``name`` if it is a storable document name.

    Raises:
        InvalidInput: naming ``field`` if it is empty, too long, has control characters
            or lone surrogates.
    """
    fix = f"Use 1-{MAX_NAME_LENGTH} printable characters."
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidInput(field, f"must be 1 to {MAX_NAME_LENGTH} characters", fix=fix)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidInput(field, "contains a control character", fix=fix)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "is not valid Unicode text", fix=fix) from None
    return name


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: no bound).

    With code-point order, ``prefix <= s < bound`` holds exactly for the strings ``s``
    that start with ``prefix``.
    """
    chars = list(prefix)
    while chars:
        nxt = ord(chars.pop()) + 1
        if 0xD800 <= nxt <= 0xDFFF:
            nxt = 0xE000  # surrogates are not storable text
        if nxt <= 0x10FFFF:
            return "".join(chars) + chr(nxt)
    return None


def encode_cursor(name: str) -> str:
    """The opaque cursor meaning "after ``name``"."""
    return base64.urlsafe_b64encode(_CURSOR_TAG + name.encode("utf-8")).decode("ascii")


def decode_cursor(cursor: str) -> str:
    """The name a cursor from :func:`encode_cursor` points after.

    Raises:
        InvalidInput: (field ``cursor``) it is not such a cursor.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
        if not raw.startswith(_CURSOR_TAG):
            raise ValueError(cursor)
        return validate_document_name(raw[len(_CURSOR_TAG) :].decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error, InvalidInput):
        raise InvalidInput("cursor", "is not a cursor from a previous page") from None
