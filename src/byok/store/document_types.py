"""Value types of the document store: heads, pages, open readers; names and list cursors.

Names are 1-1,024 characters in Unicode normal form C, without control characters, line
separators, bidirectional controls or lone surrogates (:func:`validate_document_name`). They
sort by code point on every backend (``byok.store.schema``), which is what makes the prefix range of
:func:`prefix_upper_bound` and the list cursors exact.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import BinaryIO

from byok.errors import InvalidInput
from byok.store.schema import DocumentRow

__all__ = [
    "MAX_LIST_LIMIT",
    "MAX_NAME_BYTES",
    "MAX_NAME_LENGTH",
    "NAME_RULES",
    "DocumentHead",
    "DocumentPage",
    "DocumentReader",
    "decode_cursor",
    "document_name",
    "encode_cursor",
    "prefix_upper_bound",
    "validate_document_name",
]

MAX_NAME_LENGTH = 1024
#: A name of :data:`MAX_NAME_LENGTH` code points is at most this many bytes of UTF-8.
MAX_NAME_BYTES = 4 * MAX_NAME_LENGTH
MAX_LIST_LIMIT = 1000
_CURSOR_TAG = b"byok-list-v1:"


@dataclass(frozen=True)
class DocumentHead:
    """What the store knows about the visible version of a document.

    Attributes:
        tenant: the tenant id.
        name: the document name.
        generation: this version's generation (unique within the tenant; higher is newer;
            counted per tenant, so it says nothing about other tenants' writes).
        size: stored (ciphertext) size in bytes.
        sha256: SHA-256 (hex) of the stored bytes.
        tk_id: the tenant key the bytes are encrypted under, if the caller said.
        created_at: when the name was first written.
        updated_at: when this version was committed.
        write_id: the per-write id bound into the blob (docs/FORMAT.md#bound-context); None
            for a version written before format v2 (its reads check ``sha256`` instead).
    """

    tenant: str
    name: str
    generation: int
    size: int
    sha256: str
    tk_id: str | None
    created_at: datetime
    updated_at: datetime
    write_id: str | None = None

    @classmethod
    def of(cls, row: DocumentRow) -> DocumentHead:
        """Build from a ``documents`` row."""
        return cls(
            row.tenant_id, row.name, row.generation, row.size, row.sha256, row.tk_id,
            row.created_at, row.updated_at, row.write_id,
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
    """Return ``name`` if it is a storable document name (docs/API.md#document-names).

    A storable name is 1 to :data:`MAX_NAME_LENGTH` code points (so at most
    :data:`MAX_NAME_BYTES` bytes of UTF-8), already in Unicode normal form C, without lone
    surrogates, control characters (C0, DEL, C1 including U+0085), line or paragraph
    separators (U+2028, U+2029) or bidirectional controls (U+061C, U+200E, U+200F,
    U+202A-U+202E, U+2066-U+2069): such characters make one name print as another
    (``invoice[U+202E]fdp.exe``) or break the lines of a log or a terminal.
    :func:`document_name` normalises first; this only checks.

    Raises:
        InvalidInput: naming ``field`` and the offending character, with the fix.
    """
    fix = NAME_RULES
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidInput(field, f"must be 1 to {MAX_NAME_LENGTH} characters", fix=fix)
    for char in name:
        why = _refused(char)
        if why is not None:
            raise InvalidInput(field, f"contains {_describe(char)}: {why}", fix=fix)
    if not unicodedata.is_normalized("NFC", name):
        raise InvalidInput(field, "is not in Unicode normal form C", fix=fix)
    return name


def document_name(name: object, *, field: str = "name") -> str:
    """Return ``name`` normalised to Unicode NFC and checked (:func:`validate_document_name`).

    The service calls this on every name it is given, so ``café`` typed as ``e`` plus a
    combining accent (NFD, as macOS file names are) and as one ``é`` (NFC) name one
    document, never two look-alike ones.

    Raises:
        InvalidInput: the name is not storable even once normalised (named, with the fix).
    """
    if isinstance(name, str):
        name = unicodedata.normalize("NFC", name)
    return validate_document_name(name, field=field)


#: The rules, in the words every refusal's ``fix`` uses.
NAME_RULES = (
    f"Use 1-{MAX_NAME_LENGTH} characters of printable text (normal form C; '/' is allowed): no "
    "control characters, line separators or bidirectional controls."
)
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069")  # fmt: skip


def _refused(char: str) -> str | None:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "not valid Unicode text (a lone surrogate)"
    if char in _BIDI_CONTROLS:
        return "a bidirectional control (it can make the name display as another)"
    if char in "\u2028\u2029":
        return "a line or paragraph separator"
    if unicodedata.category(char) == "Cc":
        return "a control character"
    return None


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"


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
