"""Document format v1: constants, limits, the header and the per-document frame cipher.

Pure functions over bytes; the streaming frame loop lives in :mod:`byok.core.stream`. Every
clause is in ``docs/FORMAT.md``, cited next to the code. Every failure while reading untrusted
bytes raises the one opaque :class:`~byok.errors.IntegrityError` (never says which check
failed); bad parameters from the caller raise :class:`~byok.errors.InvalidInput`.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byok.core.context import MAX_ID_BYTES, encode_id
from byok.core.raw_keys import (
    COMMITMENT_BYTES,
    KEY_BYTES,
    SALT_BYTES,
    TenantKey,
    document_okm,
    info_prefix,
)
from byok.errors import IntegrityError, InvalidInput

__all__ = [
    "ALGORITHM",
    "DEFAULT_FRAME_SIZE",
    "MAGIC",
    "MAX_FRAMES",
    "MAX_FRAME_SIZE",
    "MAX_HEADER_BYTES",
    "MIN_FRAME_SIZE",
    "TAG_BYTES",
    "VERSION",
    "DocumentCipher",
    "Header",
    "check_frame_size",
    "integrity_error",
    "parse_header",
]

# docs/FORMAT.md#header
MAGIC = b"BYOK"
VERSION = 1
ALGORITHM = 1
TAG_BYTES = 16
# docs/FORMAT.md#limits
MIN_FRAME_SIZE = 1024
MAX_FRAME_SIZE = 16 * 1024 * 1024
MAX_FRAMES = 2**32
# docs/FORMAT.md#frame-size: chosen by bench/envelope.py.
DEFAULT_FRAME_SIZE = 256 * 1024

_FIXED = struct.Struct(">4sBBI")  # magic, version, algorithm, frame size
_FIXED_AND_LENGTH = struct.Struct(">4sBBIH")  # ... and the tenant id's length
_U16 = struct.Struct(">H")
_TAIL_BYTES = SALT_BYTES + COMMITMENT_BYTES + TAG_BYTES
MAX_HEADER_BYTES = _FIXED.size + 3 * (2 + MAX_ID_BYTES) + _TAIL_BYTES
# docs/FORMAT.md#header-authentication: never equal to a frame nonce (indices < 2**32).
_HEADER_NONCE = b"\xff" * 12
_NONCE_PREFIX = b"\x00" * 4
_NOT_FINAL = b"\x00"
_FINAL = b"\x01"
_INFO_PREFIX = info_prefix(VERSION, ALGORITHM)  # docs/FORMAT.md#document-key


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
        frame_size: ``F``.
        tenant: tenant id.
        document_id: document id.
        tk_id: id of the tenant key the document is encrypted under.
        salt: HKDF salt.
        commitment: key commitment ``C``.
        tag: header tag.
        body: the encoded header body (every byte before the tag).
    """

    frame_size: int
    tenant: str
    document_id: str
    tk_id: str
    salt: bytes
    commitment: bytes
    tag: bytes
    body: bytes

    @property
    def size(self) -> int:
        """The encoded header length in bytes."""
        return len(self.body) + TAG_BYTES

    def __repr__(self) -> str:
        return (
            f"Header(frame_size={self.frame_size}, tenant={self.tenant!r}, "
            f"document_id={self.document_id!r}, tk_id={self.tk_id!r})"
        )


_new_header = tuple.__new__


def _lp_id(document_id: str) -> bytes:
    """``lp16(document id)``; runs for every document, so the common case is inlined."""
    if type(document_id) is str and document_id.isascii() and 0 < len(document_id) <= MAX_ID_BYTES:
        raw = document_id.encode("ascii")
    else:  # non-ASCII, empty, too long or not a str: the full check (and its InvalidInput)
        raw = encode_id(document_id, "document_id")
    return _U16.pack(len(raw)) + raw


def parse_header(data: bytes | bytearray | memoryview) -> Header:
    """Parse the header at the start of ``data``, checking every limit before using it.

    Only the first :data:`MAX_HEADER_BYTES` bytes are looked at (so no length field can make
    the parser read or allocate more); the frames start at ``header.size``.

    Returns:
        The parsed :class:`Header` (not authenticated yet: see :class:`DocumentCipher`).

    Raises:
        IntegrityError: not a v1 byok header, a limit exceeded, bad UTF-8 or short input.
    """
    buf = bytes(data[:MAX_HEADER_BYTES])
    try:  # struct.error: the input ends inside a fixed-size field
        magic, version, algorithm, frame_size, n1 = _FIXED_AND_LENGTH.unpack_from(buf)
        if (
            magic != MAGIC
            or version != VERSION
            or algorithm != ALGORITHM
            or not MIN_FRAME_SIZE <= frame_size <= MAX_FRAME_SIZE
            or not 0 < n1 <= MAX_ID_BYTES  # docs/FORMAT.md#limits, before reading the id
        ):
            raise integrity_error()
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
    except (struct.error, UnicodeDecodeError):
        raise integrity_error() from None
    # tuple.__new__: the NamedTuple's generated __new__ is a Python-level call per document.
    return _new_header(
        Header,
        (
            frame_size,
            tenant,
            document_id,
            tk_id,
            buf[p3 : p3 + SALT_BYTES],
            buf[p3 + SALT_BYTES : tag_at],
            buf[tag_at : tag_at + TAG_BYTES],
            buf[:tag_at],
        ),
    )


class DocumentCipher:
    """AES-256-GCM under one document's key, bound to its header: docs/FORMAT.md#frames.

    Build with :meth:`for_writing` (fresh header) or :meth:`for_reading` (verifies a parsed
    header). Holds the document key inside an ``AESGCM`` object only.
    """

    __slots__ = ("_aad_prefix", "_aead", "frame_size", "header_bytes")

    def __init__(self, aead: AESGCM, header_bytes: bytes, frame_size: int) -> None:
        self._aead = aead
        self.header_bytes = header_bytes
        self.frame_size = frame_size
        # docs/FORMAT.md#frames: aad_i = H ‖ u64(i) ‖ u8(final), H = SHA-256(header).
        self._aad_prefix = hashlib.sha256(header_bytes).digest()

    @classmethod
    def for_writing(
        cls, tenant_key: TenantKey, document_id: str, frame_size: int, salt: bytes
    ) -> DocumentCipher:
        """Derive a new document's key and encode its header (docs/FORMAT.md#document-key).

        Returns:
            The cipher; its ``header_bytes`` are the header to write first.

        Raises:
            InvalidInput: ``document_id``, ``frame_size`` or ``salt`` is malformed.
        """
        check_frame_size(frame_size)
        ids = tenant_key.tenant_lp + _lp_id(document_id) + tenant_key.tk_id_lp
        okm = document_okm(tenant_key.material, salt, _INFO_PREFIX + ids)
        # docs/FORMAT.md#header: magic, version, algorithm, F, the three ids, salt, C.
        body = _FIXED.pack(MAGIC, VERSION, ALGORITHM, frame_size) + ids + salt + okm[KEY_BYTES:]
        aead = AESGCM(okm[:KEY_BYTES])
        # docs/FORMAT.md#header-authentication
        tag = aead.encrypt(_HEADER_NONCE, b"", body)
        return cls(aead, body + tag, frame_size)

    @classmethod
    def for_reading(cls, header: Header, tenant_key: TenantKey, document_id: str) -> DocumentCipher:
        """Check a parsed header against the expected ids and key: docs/FORMAT.md#decryption.

        The expected tenant is ``tenant_key.tenant``.

        Returns:
            The cipher for the document's frames.

        Raises:
            InvalidInput: ``document_id`` is not a valid identifier.
            IntegrityError: wrong tenant, document or TK id, commitment or header tag mismatch.
        """
        doc_lp = _lp_id(document_id)
        if (
            header.tenant != tenant_key.tenant
            or header.document_id != document_id
            or header.tk_id != tenant_key.tk_id
        ):
            raise integrity_error()
        info = _INFO_PREFIX + tenant_key.tenant_lp + doc_lp + tenant_key.tk_id_lp
        okm = document_okm(tenant_key.material, header.salt, info)
        # docs/FORMAT.md#document-key: constant-time commitment check before using K_doc.
        if not hmac.compare_digest(okm[KEY_BYTES:], header.commitment):
            raise integrity_error()
        aead = AESGCM(okm[:KEY_BYTES])
        try:
            aead.decrypt(_HEADER_NONCE, header.tag, header.body)
        except InvalidTag:
            raise integrity_error() from None
        return cls(aead, header.body + header.tag, header.frame_size)

    def seal_into(self, index: int, final: bool, plaintext: memoryview, out: memoryview) -> None:
        """Encrypt frame ``index`` into ``out`` (``len(plaintext) + 16`` bytes)."""
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        aad = self._aad_prefix + index.to_bytes(8, "big") + (_FINAL if final else _NOT_FINAL)
        self._aead.encrypt_into(nonce, plaintext, aad, out)

    def seal(self, index: int, final: bool, plaintext: bytes | memoryview) -> bytes:
        """Encrypt frame ``index``; returns ciphertext ‖ tag."""
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        aad = self._aad_prefix + index.to_bytes(8, "big") + (_FINAL if final else _NOT_FINAL)
        return self._aead.encrypt(nonce, plaintext, aad)

    def open_into(self, index: int, final: bool, frame: memoryview, out: memoryview) -> None:
        """Verify and decrypt frame ``index`` into ``out`` (``len(frame) - 16`` bytes).

        ``out`` must not be released to anyone if this raises: it may hold unverified bytes.

        Raises:
            IntegrityError: the frame does not authenticate at this index and finality.
        """
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        aad = self._aad_prefix + index.to_bytes(8, "big") + (_FINAL if final else _NOT_FINAL)
        try:
            self._aead.decrypt_into(nonce, frame, aad, out)
        except InvalidTag:
            raise integrity_error() from None

    def open(self, index: int, final: bool, frame: bytes | memoryview) -> bytes:
        """Verify and decrypt frame ``index``; returns its plaintext.

        Raises:
            IntegrityError: the frame does not authenticate at this index and finality.
        """
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        aad = self._aad_prefix + index.to_bytes(8, "big") + (_FINAL if final else _NOT_FINAL)
        try:
            return self._aead.decrypt(nonce, frame, aad)
        except InvalidTag:
            raise integrity_error() from None
