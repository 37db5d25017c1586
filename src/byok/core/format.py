"""Document format: constants, limits and the header parser (v2, and v1 for reading).

Pure functions over bytes; the per-document frame cipher is :mod:`byok.core.cipher`, the
streaming frame loop :mod:`byok.core.stream`. Every clause is in ``docs/FORMAT.md``, cited next
to the code. Every failure while reading untrusted bytes raises the one opaque
:class:`~byok.errors.IntegrityError` (never says which check failed); bad parameters from the
caller raise :class:`~byok.errors.InvalidInput`.

Writers produce version 2 only (docs/FORMAT.md#header); version 1 documents stay readable.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from byok.core.bound_context import BoundContext, decode_context
from byok.core.context import MAX_ID_BYTES
from byok.core.raw_keys import COMMITMENT_BYTES, SALT_BYTES
from byok.errors import IntegrityError, InvalidInput

__all__ = [
    "ALGORITHM",
    "ALGORITHM_V1",
    "DEFAULT_FRAME_SIZE",
    "FIXED",
    "MAGIC",
    "MAX_FRAMES",
    "MAX_FRAME_SIZE",
    "MAX_HEADER_BYTES",
    "MIN_FRAME_SIZE",
    "TAG_BYTES",
    "VERSION",
    "VERSION_1",
    "Header",
    "check_frame_size",
    "integrity_error",
    "parse_header",
]

# docs/FORMAT.md#header
MAGIC = b"BYOK"
VERSION = 2
ALGORITHM = 2
VERSION_1 = 1
ALGORITHM_V1 = 1
TAG_BYTES = 16
# docs/FORMAT.md#limits
MIN_FRAME_SIZE = 1024
MAX_FRAME_SIZE = 16 * 1024 * 1024
MAX_FRAMES = 2**32
#: Longest header of either version: the parser never looks further.
MAX_HEADER_BYTES = 8192
# docs/FORMAT.md#frame-size: chosen by bench/envelope.py.
DEFAULT_FRAME_SIZE = 256 * 1024

FIXED = struct.Struct(">4sBBI")  # magic, version, algorithm, frame size
_FIXED_AND_LENGTH = struct.Struct(">4sBBIH")  # ... and the first id's length
_U16 = struct.Struct(">H")
_V1_TAIL = SALT_BYTES + COMMITMENT_BYTES + TAG_BYTES
_V2_TAIL = SALT_BYTES + COMMITMENT_BYTES


def integrity_error() -> IntegrityError:
    """The one opaque integrity failure (same message for every check, docs/FORMAT.md#errors)."""
    return IntegrityError()


def check_frame_size(frame_size: int) -> int:
    """Validate a writer's frame size (docs/FORMAT.md#limits).

    Returns:
        ``frame_size``.

    Raises:
        InvalidInput: (field ``frame_size``) not an int in 1024..16777216.
    """
    if type(frame_size) is not int or not MIN_FRAME_SIZE <= frame_size <= MAX_FRAME_SIZE:
        raise InvalidInput(
            "frame_size", f"must be an integer in {MIN_FRAME_SIZE}..{MAX_FRAME_SIZE}"
        )
    return frame_size


class Header(NamedTuple):
    """A parsed (not yet authenticated) document header: docs/FORMAT.md#header.

    Attributes:
        version: 2 (or 1 for an old document).
        frame_size: ``F``.
        tenant: tenant id (from the bound context in v2).
        document_id: document id (likewise).
        tk_id: id of the tenant key the document is encrypted under.
        salt: HKDF salt.
        commitment: key commitment ``C``.
        tag: v1's header tag; empty in v2 (the commitment authenticates the header).
        body: v1: every byte before the tag; v2: every byte before the salt (the HKDF info).
        context: the bound context (v1: just tenant and document).
    """

    version: int
    frame_size: int
    tenant: str
    document_id: str
    tk_id: str
    salt: bytes
    commitment: bytes
    tag: bytes
    body: bytes
    context: BoundContext

    @property
    def size(self) -> int:
        """The encoded header length in bytes."""
        if self.version == VERSION_1:
            return len(self.body) + TAG_BYTES
        return len(self.body) + _V2_TAIL

    def __repr__(self) -> str:
        return (
            f"Header(version={self.version}, frame_size={self.frame_size}, "
            f"context={self.context!r}, tk_id={self.tk_id!r})"
        )


_new_header = tuple.__new__


def parse_header(data: bytes | bytearray | memoryview) -> Header:
    """Parse the header at the start of ``data``, checking every limit before using it.

    Only the first :data:`MAX_HEADER_BYTES` bytes are looked at (so no length field can make
    the parser read or allocate more); the frames start at ``header.size``.

    Returns:
        The parsed :class:`Header` (not authenticated yet: ``byok.core.cipher``).

    Raises:
        IntegrityError: not a byok header, a limit exceeded, bad UTF-8 or short input.
    """
    buf = bytes(data[:MAX_HEADER_BYTES])
    try:  # struct.error: the input ends inside a fixed-size field
        magic, version, algorithm, frame_size, n1 = _FIXED_AND_LENGTH.unpack_from(buf)
        if (
            magic != MAGIC
            or not MIN_FRAME_SIZE <= frame_size <= MAX_FRAME_SIZE
            or not 0 < n1 <= MAX_ID_BYTES  # docs/FORMAT.md#limits, before reading the id
        ):
            raise integrity_error()
        if version == VERSION and algorithm == ALGORITHM:
            return _parse_v2(buf, frame_size, n1)
        if version == VERSION_1 and algorithm == ALGORITHM_V1:
            return _parse_v1(buf, frame_size, n1)
    except (struct.error, UnicodeDecodeError):
        raise integrity_error() from None
    raise integrity_error()


def _parse_v2(buf: bytes, frame_size: int, n_tk: int) -> Header:
    """docs/FORMAT.md#header: F, lp16(TK id), bound context, salt, commitment."""
    p = _FIXED_AND_LENGTH.size + n_tk
    tk_id = buf[_FIXED_AND_LENGTH.size : p].decode("utf-8")
    context, p = decode_context(buf, p)
    if p + _V2_TAIL > len(buf):
        raise integrity_error()
    # tuple.__new__: the NamedTuple's generated __new__ is a Python-level call per document.
    return _new_header(
        Header,
        (
            VERSION, frame_size, context.tenant, context.document, tk_id,
            buf[p : p + SALT_BYTES], buf[p + SALT_BYTES : p + _V2_TAIL], b"", buf[:p], context,
        ),
    )  # fmt: skip


def _parse_v1(buf: bytes, frame_size: int, n1: int) -> Header:
    """docs/FORMAT.md#version-1: F, lp16 tenant, document and TK ids, salt, C, header tag."""
    p1 = _FIXED_AND_LENGTH.size + n1
    (n2,) = _U16.unpack_from(buf, p1)
    if not 0 < n2 <= MAX_ID_BYTES:
        raise integrity_error()
    p2 = p1 + 2 + n2
    (n3,) = _U16.unpack_from(buf, p2)
    if not 0 < n3 <= MAX_ID_BYTES:
        raise integrity_error()
    p3 = p2 + 2 + n3
    tag_at = p3 + SALT_BYTES + COMMITMENT_BYTES
    if tag_at + TAG_BYTES > len(buf):
        raise integrity_error()
    tenant = buf[_FIXED_AND_LENGTH.size : p1].decode("utf-8")
    document_id = buf[p1 + 2 : p2].decode("utf-8")
    tk_id = buf[p2 + 2 : p3].decode("utf-8")
    return _new_header(
        Header,
        (
            VERSION_1, frame_size, tenant, document_id, tk_id, buf[p3 : p3 + SALT_BYTES],
            buf[p3 + SALT_BYTES : tag_at], buf[tag_at : tag_at + TAG_BYTES], buf[:tag_at],
            BoundContext(tenant, document_id),
        ),
    )  # fmt: skip
