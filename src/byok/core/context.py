"""Identifiers and the KMS encryption context of tenant keys.

The tenant-key context (``docs/FORMAT.md#encryption-context``) is what KMS binds to every
wrapped tenant key and logs in the customer's CloudTrail; customers write key-policy
conditions on ``kms:EncryptionContext:byok:tenant``. :func:`canonical_context` is its one byte
encoding (sorted, length-prefixed), used wherever a context must be hashed or authenticated.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from byok.errors import InvalidInput

__all__ = [
    "ACCESS_REASONS",
    "MAX_CONTEXT_PAIRS",
    "MAX_CONTEXT_VALUE_BYTES",
    "MAX_ID_BYTES",
    "PERIOD_CONTEXT_KEY",
    "REASON_CONTEXT_KEY",
    "SCOPE_CONTEXT_KEY",
    "TENANT_CONTEXT_KEY",
    "TK_CONTEXT_KEY",
    "canonical_context",
    "encode_id",
    "tenant_key_context",
]

#: Context key naming the tenant (``kms:EncryptionContext:byok:tenant`` in key policies).
TENANT_CONTEXT_KEY = "byok:tenant"
#: Context key naming the tenant key (``kms:EncryptionContext:byok:tk``).
TK_CONTEXT_KEY = "byok:tk"
#: Context keys a customer's key policy can deny on (docs/SECURITY.md#customer-levers): the
#: collection a tenant key serves, its calendar period, and why the vendor unwraps it.
SCOPE_CONTEXT_KEY = "byok:scope"
PERIOD_CONTEXT_KEY = "byok:period"
REASON_CONTEXT_KEY = "byok:reason"
#: Every access reason byok states (``byok:reason``).
ACCESS_REASONS = ("customer-request", "vendor-service", "vendor-support")

#: docs/FORMAT.md#conventions: identifiers are 1 to 256 bytes of UTF-8.
MAX_ID_BYTES = 256
#: docs/FORMAT.md#encryption-context: bounds of the canonical context.
MAX_CONTEXT_VALUE_BYTES = 4096
MAX_CONTEXT_PAIRS = 64

_U16 = struct.Struct(">H")


def encode_id(value: str, field: str) -> bytes:
    """Encode an identifier (tenant id, document id, TK id) as strict UTF-8.

    Args:
        value: the identifier.
        field: the parameter name to report if it is malformed.

    Returns:
        Its UTF-8 bytes, 1 to :data:`MAX_ID_BYTES` long.

    Raises:
        InvalidInput: ``value`` is not a str, is empty, is longer than 256 bytes of UTF-8 or
            cannot be encoded (lone surrogates).
    """
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "is not valid Unicode text") from None
    if not 1 <= len(raw) <= MAX_ID_BYTES:
        raise InvalidInput(field, f"must be 1 to {MAX_ID_BYTES} bytes of UTF-8")
    return raw


def tenant_key_context(tenant: str, tk_id: str) -> dict[str, str]:
    """The KMS encryption context of a tenant key (docs/FORMAT.md#encryption-context).

    Returns:
        ``{"byok:tenant": tenant, "byok:tk": tk_id}``.

    Raises:
        InvalidInput: ``tenant`` or ``tk_id`` is not a valid identifier.
    """
    encode_id(tenant, "tenant")
    encode_id(tk_id, "tk_id")
    return {TENANT_CONTEXT_KEY: tenant, TK_CONTEXT_KEY: tk_id}


def canonical_context(context: Mapping[str, str]) -> bytes:
    """Encode an encryption context canonically (docs/FORMAT.md#encryption-context).

    ``u16(count) ‖ for each pair sorted by UTF-8 key: lp16(key) ‖ lp16(value)``. Two contexts
    have the same encoding exactly when they are equal mappings.

    Returns:
        The encoding.

    Raises:
        InvalidInput: (field ``encryption_context``) more than 64 pairs, a key or value that is
            not a non-empty string of at most 4096 bytes of UTF-8.
    """
    if len(context) > MAX_CONTEXT_PAIRS:
        raise InvalidInput("encryption_context", f"has more than {MAX_CONTEXT_PAIRS} pairs")
    pairs = sorted((_context_part(k), _context_part(v)) for k, v in context.items())
    out = bytearray(_U16.pack(len(pairs)))
    for key, value in pairs:
        out += _U16.pack(len(key)) + key + _U16.pack(len(value)) + value
    return bytes(out)


def _context_part(text: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput("encryption_context", "keys and values must be strings")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("encryption_context", "is not valid Unicode text") from None
    if not 1 <= len(raw) <= MAX_CONTEXT_VALUE_BYTES:
        raise InvalidInput(
            "encryption_context", f"keys and values must be 1 to {MAX_CONTEXT_VALUE_BYTES} bytes"
        )
    return raw
