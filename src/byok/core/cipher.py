"""The per-document frame cipher: docs/FORMAT.md#document-key and #frames.

:class:`DocumentCipher` derives one document's key and commitment with **one HKDF call** and
seals or opens its frames with AES-256-GCM. Version 2 (every new document): the HKDF ``info``
is the whole header before the salt (TK id and bound context included), so the commitment both
commits to the key and authenticates the header (no header tag, no header hash), and the key
is bound to every header byte. Version 1 documents are still opened (header tag, header hash
in every frame's AAD).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byok.core.bound_context import BoundContext
from byok.core.format import (
    ALGORITHM,
    FIXED,
    MAGIC,
    MAX_HEADER_BYTES,
    VERSION,
    VERSION_1,
    Header,
    check_frame_size,
    integrity_error,
)
from byok.core.raw_keys import KEY_BYTES, V2_INFO_LABEL, TenantKey, document_okm, info_prefix
from byok.errors import InvalidInput

__all__ = ["DocumentCipher", "Expected"]

#: What a reader expects a document to be: a document id (tenant from the key, nothing else
#: bound) or a whole :class:`BoundContext`.
Expected = str | BoundContext

# docs/FORMAT.md#version-1: the header tag's nonce (never a frame nonce: indices < 2**32).
_HEADER_NONCE = b"\xff" * 12
_NONCE_PREFIX = b"\x00" * 4
_NOT_FINAL = b"\x00"
_FINAL = b"\x01"
_V1_INFO_PREFIX = info_prefix(1, 1)
_V2_TAIL = 64  # salt and commitment


def _context(tenant_key: TenantKey, expected: Expected) -> BoundContext:
    if type(expected) is str:
        return BoundContext.simple(tenant_key.tenant_lp, tenant_key.tenant, expected)
    if not isinstance(expected, BoundContext):
        raise InvalidInput("document_id", "must be a string or a BoundContext")
    return expected


def _bound_by_key(
    header: Header, context: BoundContext, tenant_key: TenantKey, expected: Expected
) -> bool:
    """docs/FORMAT.md#bound-context: a document written under a scoped key also binds that
    key's scope and period (documents written before scopes do not). The header's pairs are
    canonical (sorted, unique), so comparing them as tuples is comparing the encodings."""
    if not tenant_key.bound or not isinstance(expected, BoundContext):
        return False
    return header.context.pairs == tuple(sorted((*context.pairs, *tenant_key.bound.items())))


class DocumentCipher:
    """AES-256-GCM under one document's key, bound to its header: docs/FORMAT.md#frames.

    Build with :meth:`for_writing` (fresh v2 header) or :meth:`for_reading` (verifies a parsed
    header of either version). Holds the document key inside an ``AESGCM`` object only.
    """

    __slots__ = ("_aad_prefix", "_aead", "frame_size", "header_bytes")

    def __init__(self, aead: AESGCM, header_bytes: bytes, frame_size: int, v1: bool) -> None:
        self._aead = aead
        self.header_bytes = header_bytes
        self.frame_size = frame_size
        # v2: aad_i = u8(final). v1: aad_i = H ‖ u64(i) ‖ u8(final), H = SHA-256(header).
        self._aad_prefix = hashlib.sha256(header_bytes).digest() if v1 else None

    @classmethod
    def for_writing(
        cls, tenant_key: TenantKey, document: Expected, frame_size: int, salt: bytes
    ) -> DocumentCipher:
        """Derive a new document's key and encode its v2 header (docs/FORMAT.md#document-key).

        Returns:
            The cipher; its ``header_bytes`` are the header to write first.

        Raises:
            InvalidInput: ``document``, ``frame_size`` or ``salt`` is malformed, or the context
                names another tenant than the key's (field ``tenant``).
        """
        check_frame_size(frame_size)
        context = _context(tenant_key, document)
        if context.tenant != tenant_key.tenant:
            raise InvalidInput("tenant", "the context names another tenant than the key")
        # docs/FORMAT.md#header: magic, version, algorithm, F, TK id, bound context.
        body = FIXED.pack(MAGIC, VERSION, ALGORITHM, frame_size) + tenant_key.tk_id_lp
        body += context.encoded
        if len(body) + _V2_TAIL > MAX_HEADER_BYTES:  # docs/FORMAT.md#limits
            raise InvalidInput("context", f"makes the header longer than {MAX_HEADER_BYTES} bytes")
        okm = document_okm(tenant_key.material, salt, V2_INFO_LABEL + body)
        return cls(AESGCM(okm[:KEY_BYTES]), body + salt + okm[KEY_BYTES:], frame_size, False)

    @classmethod
    def for_reading(
        cls, header: Header, tenant_key: TenantKey, expected: Expected
    ) -> DocumentCipher:
        """Check a parsed header against the expected context and key: docs/FORMAT.md#decryption.

        The expected tenant is ``tenant_key.tenant``; ``expected`` is the document id (nothing
        else may be bound) or the whole expected :class:`BoundContext`.

        Returns:
            The cipher for the document's frames.

        Raises:
            InvalidInput: ``expected`` is not a valid identifier or context.
            IntegrityError: another context or TK id, commitment or header tag mismatch.
        """
        context = _context(tenant_key, expected)
        if (
            (
                header.context.encoded != context.encoded
                and not _bound_by_key(header, context, tenant_key, expected)
            )
            or header.tenant != tenant_key.tenant
            or header.tk_id != tenant_key.tk_id
        ):
            raise integrity_error()
        if header.version == VERSION_1:
            return cls._v1(header, tenant_key)
        okm = document_okm(tenant_key.material, header.salt, V2_INFO_LABEL + header.body)
        # docs/FORMAT.md#document-key: the constant-time commitment check authenticates the
        # header and commits to the key, before K_doc is used.
        if not hmac.compare_digest(okm[KEY_BYTES:], header.commitment):
            raise integrity_error()
        head = header.body + header.salt + header.commitment
        return cls(AESGCM(okm[:KEY_BYTES]), head, header.frame_size, False)

    @classmethod
    def _v1(cls, header: Header, tenant_key: TenantKey) -> DocumentCipher:
        """docs/FORMAT.md#version-1: commitment, then the header tag."""
        raw_doc = header.document_id.encode("utf-8")
        info = (
            _V1_INFO_PREFIX + tenant_key.tenant_lp + len(raw_doc).to_bytes(2, "big") + raw_doc
            + tenant_key.tk_id_lp
        )  # fmt: skip
        okm = document_okm(tenant_key.material, header.salt, info)
        if not hmac.compare_digest(okm[KEY_BYTES:], header.commitment):
            raise integrity_error()
        aead = AESGCM(okm[:KEY_BYTES])
        try:
            aead.decrypt(_HEADER_NONCE, header.tag, header.body)
        except InvalidTag:
            raise integrity_error() from None
        return cls(aead, header.body + header.tag, header.frame_size, True)

    def _aad(self, index: int, final: bool) -> bytes:
        if self._aad_prefix is None:
            return _FINAL if final else _NOT_FINAL
        return self._aad_prefix + index.to_bytes(8, "big") + (_FINAL if final else _NOT_FINAL)

    def seal_into(self, index: int, final: bool, plaintext: memoryview, out: memoryview) -> None:
        """Encrypt frame ``index`` into ``out`` (``len(plaintext) + 16`` bytes)."""
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        self._aead.encrypt_into(nonce, plaintext, self._aad(index, final), out)

    def seal(self, index: int, final: bool, plaintext: bytes | memoryview) -> bytes:
        """Encrypt frame ``index``; returns ciphertext ‖ tag."""
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        return self._aead.encrypt(nonce, plaintext, self._aad(index, final))

    def open_into(self, index: int, final: bool, frame: memoryview, out: memoryview) -> None:
        """Verify and decrypt frame ``index`` into ``out`` (``len(frame) - 16`` bytes).

        ``out`` must not be released to anyone if this raises: it may hold unverified bytes.

        Raises:
            IntegrityError: the frame does not authenticate at this index and finality.
        """
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        try:
            self._aead.decrypt_into(nonce, frame, self._aad(index, final), out)
        except InvalidTag:
            raise integrity_error() from None

    def open(self, index: int, final: bool, frame: bytes | memoryview) -> bytes:
        """Verify and decrypt frame ``index``; returns its plaintext.

        Raises:
            IntegrityError: the frame does not authenticate at this index and finality.
        """
        nonce = _NONCE_PREFIX + index.to_bytes(8, "big")
        try:
            return self._aead.decrypt(nonce, frame, self._aad(index, final))
        except InvalidTag:
            raise integrity_error() from None
