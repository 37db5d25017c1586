"""Raw key material: the only module of byok.core that derives or hands out key bytes.

Like ``cryptography.hazmat``, the name is the warning. Everything here holds or returns
plaintext key bytes; callers keep them in memory only, never log, print, persist or put them in
an exception. Objects holding key bytes hide them from ``repr`` and compare by identity (a
content comparison would not be constant time).

- :class:`TenantKey`: a tenant key (TK) in plaintext, with the tenant and TK id it belongs to.
- :class:`VendorKey`: a tenant's vendor key, the second half of the composite wrap
  (docs/SECURITY.md#offboarding-and-backups).
- :func:`derive_document_key`: ``docs/FORMAT.md#document-key`` (HKDF-SHA256 to the per-document
  AES-256-GCM key and the key commitment).
"""

from __future__ import annotations

import struct
from hmac import digest as _hmac

from byok.core.bound_context import EncodedPairs, encode_pairs
from byok.core.context import encode_id
from byok.errors import InvalidInput

__all__ = [
    "COMMITMENT_BYTES",
    "KEY_BYTES",
    "SALT_BYTES",
    "V2_INFO_LABEL",
    "DocumentKey",
    "TenantKey",
    "VendorKey",
    "derive_document_key",
    "document_key_info",
    "document_okm",
    "info_prefix",
]

#: AES-256 key length (TK and document key).
KEY_BYTES = 32
#: docs/FORMAT.md#document-key: salt and commitment lengths.
SALT_BYTES = 32
COMMITMENT_BYTES = 32

_INFO_LABEL = b"byok/v1/document-key"
#: docs/FORMAT.md#document-key: the v2 HKDF ``info`` is this label, then the header body.
V2_INFO_LABEL = b"byok/v2/document"
_U16 = struct.Struct(">H")


class TenantKey:
    """A plaintext tenant key (TK) and the identifiers it is bound to.

    Attributes:
        tenant: the tenant id.
        tk_id: the tenant-key id (named in every document header it encrypts).
        material: the 32 key bytes. Never printed: ``repr`` omits it.
        bound: the pairs a document written under this key binds besides tenant and
            document (its ``scope`` and ``period``: docs/FORMAT.md#bound-context); empty for
            keys made before scopes.
    """

    __slots__ = (
        "_tenant_lp", "_tenant_raw", "_tk_lp", "_tk_raw", "bound", "bound_encoded", "material",
        "tenant", "tk_id",
    )  # fmt: skip

    def __init__(
        self, tenant: str, tk_id: str, material: bytes, bound: dict[str, str] | None = None
    ) -> None:
        """Bind 32 key bytes to a tenant and TK id (and the pairs its documents bind).

        Raises:
            InvalidInput: ``tenant`` or ``tk_id`` is not a valid identifier (field names
                ``tenant``, ``tk_id``), or ``material`` is not 32 bytes (``tenant_key``).
        """
        if not isinstance(material, bytes | bytearray) or len(material) != KEY_BYTES:
            raise InvalidInput("tenant_key", f"must be {KEY_BYTES} bytes")
        self._tenant_raw = encode_id(tenant, "tenant")
        self._tk_raw = encode_id(tk_id, "tk_id")
        # Length-prefixed forms, computed once per key: they go into every header and info.
        self._tenant_lp = _U16.pack(len(self._tenant_raw)) + self._tenant_raw
        self._tk_lp = _U16.pack(len(self._tk_raw)) + self._tk_raw
        self.tenant = tenant
        self.tk_id = tk_id
        self.material = bytes(material)
        self.bound: dict[str, str] = dict(bound or {})
        #: ``bound`` checked and encoded once, for every document it writes.
        self.bound_encoded: EncodedPairs = encode_pairs(self.bound)

    @property
    def tenant_raw(self) -> bytes:
        """The tenant id as UTF-8."""
        return self._tenant_raw

    @property
    def tk_id_raw(self) -> bytes:
        """The TK id as UTF-8."""
        return self._tk_raw

    @property
    def tenant_lp(self) -> bytes:
        """``lp16(tenant id)`` (docs/FORMAT.md#conventions)."""
        return self._tenant_lp

    @property
    def tk_id_lp(self) -> bytes:
        """``lp16(TK id)``."""
        return self._tk_lp

    def __repr__(self) -> str:
        return f"TenantKey(tenant={self.tenant!r}, tk_id={self.tk_id!r})"


class VendorKey:
    """A tenant's vendor key: 32 bytes kept outside the database and its backups.

    Attributes:
        tenant: the tenant id.
        material: the key bytes. Never printed: ``repr`` omits it.
    """

    __slots__ = ("material", "tenant")

    def __init__(self, tenant: str, material: bytes) -> None:
        """Raises InvalidInput (field ``vendor_key``) unless ``material`` is 32 bytes."""
        if not isinstance(material, bytes | bytearray) or len(material) != KEY_BYTES:
            raise InvalidInput("vendor_key", f"must be {KEY_BYTES} bytes")
        self.tenant = tenant
        self.material = bytes(material)

    def __repr__(self) -> str:
        return f"VendorKey(tenant={self.tenant!r})"


class DocumentKey:
    """The per-document AES-256-GCM key and its commitment (docs/FORMAT.md#document-key).

    Attributes:
        key: ``K_doc``, 32 bytes. Never printed.
        commitment: ``C``, 32 bytes, stored in the header (not secret).
    """

    __slots__ = ("commitment", "key")

    def __init__(self, key: bytes, commitment: bytes) -> None:
        self.key = key
        self.commitment = commitment

    def __repr__(self) -> str:
        return "DocumentKey(<hidden>)"


def info_prefix(version: int, algorithm: int) -> bytes:
    """The constant start of the v1 HKDF ``info``: ``"byok/v1/document-key" ‖ u8 ‖ u8``."""
    return _INFO_LABEL + bytes((version, algorithm))


def document_key_info(
    version: int, algorithm: int, tenant: bytes, document_id: bytes, tk_id: bytes
) -> bytes:
    """Build the v1 HKDF ``info`` (docs/FORMAT.md#version-1) from already-encoded ids.

    Every variable-length part is length-prefixed (u16), so the encoding is unambiguous.

    Returns:
        ``"byok/v1/document-key" ‖ u8(version) ‖ u8(algorithm) ‖ lp16(tenant) ‖
        lp16(document_id) ‖ lp16(tk_id)``.
    """
    parts = [info_prefix(version, algorithm)]
    for raw in (tenant, document_id, tk_id):
        parts += (_U16.pack(len(raw)), raw)
    return b"".join(parts)


def document_okm(material: bytes, salt: bytes, info: bytes) -> bytes:
    """``OKM = HKDF-SHA256(IKM=material, salt=salt, info=info, L=64)``: docs/FORMAT.md#document-key.

    The document key is ``OKM[:32]``, the commitment ``OKM[32:]`` (:func:`derive_document_key`
    splits them; the format layer slices the bytes directly, on every document).

    RFC 5869 written out with the standard library's one-shot HMAC (OpenSSL underneath):
    ``PRK = HMAC(salt, IKM)``, ``T1 = HMAC(PRK, info ‖ 0x01)``, ``T2 = HMAC(PRK, T1 ‖ info ‖
    0x02)``, ``OKM = T1 ‖ T2``. Same bytes as ``cryptography``'s HKDF (the format vectors and
    ``tests/unit/test_raw_keys_hkdf.py`` check it) at well under half the cost per document,
    and without releasing the GIL three times for 64 bytes (issue 18).

    Raises:
        InvalidInput: ``salt`` is not 32 bytes (field ``salt``).
    """
    if len(salt) != SALT_BYTES:
        raise InvalidInput("salt", f"must be {SALT_BYTES} bytes")
    prk = _hmac(salt, material, "sha256")
    first = _hmac(prk, info + b"\x01", "sha256")
    return first + _hmac(prk, first + info + b"\x02", "sha256")


def derive_document_key(material: bytes, salt: bytes, info: bytes) -> DocumentKey:
    """Derive a document key and commitment: docs/FORMAT.md#document-key.

    ``OKM = HKDF-SHA256(IKM=material, salt=salt, info=info, L=64)``; the key is ``OKM[:32]``,
    the commitment ``OKM[32:]``.

    Args:
        material: the plaintext TK (32 bytes).
        salt: the document's 32-byte salt.
        info: from :func:`document_key_info`.

    Returns:
        The :class:`DocumentKey`.

    Raises:
        InvalidInput: ``salt`` is not 32 bytes (field ``salt``).
    """
    okm = document_okm(material, salt, info)
    return DocumentKey(okm[:KEY_BYTES], okm[KEY_BYTES:])
