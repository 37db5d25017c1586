"""The bound context of a v2 document: what its authenticated header says it is.

``docs/FORMAT.md#bound-context``: a small set of string pairs, encoded canonically (sorted by
key, length-prefixed) inside the header and bound into the document key and commitment. It
always names the ``tenant`` and the ``document``; byok's document store adds ``write``, a
random id made for each write and recorded in the document's database row, so a reader proves
it got the *current* version (not an older one written back over the blob), and the ``scope``
and ``period`` of the tenant key it was written under (:attr:`TenantKey.bound`).

A reader compares the whole encoded context with the one it expects (for a store read: the
row's pairs, plus the scope and period the tenant key states; documents written before
scopes carry neither): a header with one pair more, one pair less or any different value is
the opaque integrity error.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from byok.errors import IntegrityError, InvalidInput

__all__ = [
    "DOCUMENT",
    "MAX_CONTEXT_KEY_BYTES",
    "MAX_CONTEXT_PAIRS",
    "MAX_CONTEXT_VALUE_BYTES",
    "TENANT",
    "WRITE",
    "BoundContext",
    "EncodedPairs",
    "decode_context",
    "encode_pairs",
]

#: Reserved keys (docs/FORMAT.md#bound-context).
TENANT = "tenant"
DOCUMENT = "document"
WRITE = "write"
_RESERVED = frozenset((TENANT, DOCUMENT, WRITE))

#: docs/FORMAT.md#limits: at most 16 pairs, keys 1-64 bytes, values 1-4096 bytes of UTF-8.
MAX_CONTEXT_PAIRS = 16
MAX_CONTEXT_KEY_BYTES = 64
MAX_CONTEXT_VALUE_BYTES = 4096

_U16 = struct.Struct(">H")
#: Encoded pairs: ``(raw key, lp16(key) ‖ lp16(value))`` each (:func:`encode_pairs`).
EncodedPairs = tuple[tuple[bytes, bytes], ...]
_DOCUMENT_LP = _U16.pack(len(DOCUMENT)) + DOCUMENT.encode()
_TENANT_LP = _U16.pack(len(TENANT)) + TENANT.encode()
_WRITE_LP = _U16.pack(len(WRITE)) + WRITE.encode()


class BoundContext:
    """The pairs a document is bound to, with their canonical encoding.

    Args:
        tenant: the tenant id.
        document: the document id (name).
        write: the per-write random id the document store records in the row (None: not
            bound, e.g. a document written outside the store).
        extra: further pairs (keys must not be ``tenant``, ``document`` or ``write``).

    Raises:
        InvalidInput: a key or value that is empty, too long or not valid Unicode (the field is
            named), or too many pairs.
    """

    __slots__ = ("_chunks", "document", "encoded", "pairs", "tenant", "write")

    def __init__(
        self,
        tenant: str,
        document: str,
        write: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        pairs = {TENANT: tenant, DOCUMENT: document}
        if write is not None:
            pairs[WRITE] = write
        for key, value in (extra or {}).items():
            if key in _RESERVED:
                raise InvalidInput("context", f"{key!r} is reserved; pass it by name")
            pairs[key] = value
        if len(pairs) > MAX_CONTEXT_PAIRS:
            raise InvalidInput("context", f"has more than {MAX_CONTEXT_PAIRS} pairs")
        encoded = [
            (_part(k, MAX_CONTEXT_KEY_BYTES, "context"), _part(v, MAX_CONTEXT_VALUE_BYTES, k))
            for k, v in pairs.items()
        ]
        chunks = tuple(
            (raw_key, _U16.pack(len(raw_key)) + raw_key + _U16.pack(len(raw)) + raw)
            for raw_key, raw in sorted(encoded)
        )
        out = _U16.pack(len(chunks)) + b"".join(chunk for _, chunk in chunks)
        self._chunks: EncodedPairs | None = chunks
        self.tenant, self.document, self.write = tenant, document, write
        self.pairs: tuple[tuple[str, str], ...] = tuple(sorted(pairs.items()))
        self.encoded = out

    @classmethod
    def simple(cls, tenant_lp: bytes, tenant: str, document: str) -> BoundContext:
        """``{tenant, document}`` for an already length-prefixed tenant (the per-document path).

        Raises:
            InvalidInput: (field ``document_id``) an empty, too long or non-Unicode document id.
        """
        if type(document) is str and document.isascii() and 0 < len(document) <= 4096:
            raw = document.encode("ascii")
        else:
            raw = _part(document, MAX_CONTEXT_VALUE_BYTES, "document_id")
        self = object.__new__(cls)
        self._chunks = None
        self.tenant, self.document, self.write = tenant, document, None
        self.pairs = ((DOCUMENT, document), (TENANT, tenant))
        # "document" < "tenant": the sorted order, fixed.
        self.encoded = (
            b"\x00\x02" + _DOCUMENT_LP + _U16.pack(len(raw)) + raw + _TENANT_LP + tenant_lp
        )
        return self

    def extended(
        self, pairs: Mapping[str, str], encoded: EncodedPairs | None = None
    ) -> BoundContext:
        """This context with ``pairs`` added (the tenant key's scope and period).

        ``encoded``: ``encode_pairs(pairs)`` computed once beforehand (``TenantKey`` keeps
        it), so the per-document path neither checks nor encodes the key's pairs again.

        Raises:
            InvalidInput: a reserved or repeated key, a malformed pair, too many pairs.
        """
        if not pairs:
            return self
        if any(key in _RESERVED or key in self._keys() for key in pairs):
            raise InvalidInput("context", "a key is reserved or already bound")
        if len(self.pairs) + len(pairs) > MAX_CONTEXT_PAIRS:
            raise InvalidInput("context", f"has more than {MAX_CONTEXT_PAIRS} pairs")
        added = encoded if encoded is not None else encode_pairs(pairs)
        merged = sorted((*self._encoded_pairs(), *added))  # raw keys are unique: no ties
        out = object.__new__(BoundContext)
        out._chunks = tuple(merged)
        out.tenant, out.document, out.write = self.tenant, self.document, self.write
        out.pairs = tuple(sorted((*self.pairs, *pairs.items())))
        out.encoded = _U16.pack(len(merged)) + b"".join(chunk for _, chunk in merged)
        return out

    def _keys(self) -> set[str]:
        return {key for key, _ in self.pairs}

    def _encoded_pairs(self) -> EncodedPairs:
        if self._chunks is not None:
            return self._chunks
        return tuple(
            (raw_key, _U16.pack(len(raw_key)) + raw_key + _U16.pack(len(raw)) + raw)
            for raw_key, raw in ((k.encode(), v.encode()) for k, v in self.pairs)
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BoundContext) and other.encoded == self.encoded

    def __hash__(self) -> int:
        return hash(self.encoded)

    def __repr__(self) -> str:
        return f"BoundContext({dict(self.pairs)!r})"


def encode_pairs(pairs: Mapping[str, str]) -> EncodedPairs:
    """Check and encode pairs for :meth:`BoundContext.extended`: ``(raw key, lp16(key) ‖
    lp16(value))`` each.

    Raises:
        InvalidInput: a key or value that is empty, too long or not valid Unicode.
    """
    out = []
    for key, value in pairs.items():
        raw_key = _part(key, MAX_CONTEXT_KEY_BYTES, "context")
        raw = _part(value, MAX_CONTEXT_VALUE_BYTES, key)
        out.append((raw_key, _U16.pack(len(raw_key)) + raw_key + _U16.pack(len(raw)) + raw))
    return tuple(out)


def decode_context(buf: bytes, at: int) -> tuple[BoundContext, int]:
    """Parse a canonical context at ``buf[at:]``, checking every length before using it.

    Returns:
        The context and the offset just after it.

    Raises:
        IntegrityError: short input, a limit exceeded, keys not strictly increasing (so not
            canonical), bad UTF-8, or no ``tenant`` or ``document``.
    """
    try:
        (count,) = _U16.unpack_from(buf, at)
        if not 2 <= count <= MAX_CONTEXT_PAIRS:
            raise IntegrityError()
        p, previous, pairs = at + 2, b"", {}
        for _ in range(count):
            (n,) = _U16.unpack_from(buf, p)
            if not 0 < n <= MAX_CONTEXT_KEY_BYTES or p + 2 + n > len(buf):
                raise IntegrityError()
            key = buf[p + 2 : p + 2 + n]
            if key <= previous:  # canonical: sorted, no duplicates
                raise IntegrityError()
            (m,) = _U16.unpack_from(buf, p + 2 + n)
            if not 0 < m <= MAX_CONTEXT_VALUE_BYTES or p + 4 + n + m > len(buf):
                raise IntegrityError()
            pairs[key.decode("utf-8")] = buf[p + 4 + n : p + 4 + n + m].decode("utf-8")
            previous, p = key, p + 4 + n + m
    except (struct.error, UnicodeDecodeError):
        raise IntegrityError() from None
    if TENANT not in pairs or DOCUMENT not in pairs:
        raise IntegrityError()
    self = object.__new__(BoundContext)
    self._chunks = None
    self.tenant, self.document, self.write = pairs[TENANT], pairs[DOCUMENT], pairs.get(WRITE)
    self.pairs = tuple(sorted(pairs.items()))
    self.encoded = bytes(buf[at:p])
    return self, p


def _part(text: object, limit: int, field: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput(field, "must be a string")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "is not valid Unicode text") from None
    if not 1 <= len(raw) <= limit:
        raise InvalidInput(field, f"must be 1 to {limit} bytes of UTF-8")
    return raw
