"""Identifiers and the KMS encryption context of tenant keys.

The tenant-key context (``docs/FORMAT.md#encryption-context``) is what KMS binds to every
wrapped tenant key and logs in the customer's CloudTrail; customers write key-policy
conditions on ``kms:EncryptionContext:byok:tenant``. :func:`canonical_context` is its one byte
encoding (sorted, length-prefixed), used wherever a context must be hashed or authenticated.
"""

from __future__ import annotations

import calendar
import math
import struct
import time
from collections.abc import Mapping
from typing import Final

from byok.errors import IntegrityError, InvalidInput

__all__ = [
    "ACCESS_REASONS",
    "DEFAULT_SCOPE",
    "MAX_CONTEXT_PAIRS",
    "MAX_CONTEXT_VALUE_BYTES",
    "MAX_ID_BYTES",
    "PERIOD_CONTEXT_KEY",
    "PERIOD_UNITS",
    "REASON_CONTEXT_KEY",
    "SCOPE_CONTEXT_KEY",
    "TENANT_CONTEXT_KEY",
    "TK_CONTEXT_KEY",
    "VERIFICATION_USE",
    "canonical_context",
    "check_reason",
    "document_bound",
    "encode_id",
    "month_period",
    "period_end",
    "period_of",
    "stored_key_context",
    "tenant_key_context",
    "with_reason",
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
#: The scope of every tenant key until per-tenant scopes are configured.
DEFAULT_SCOPE = "default"
#: Every access reason byok states (``byok:reason``).
ACCESS_REASONS = ("customer-request", "vendor-service", "vendor-support")
#: The scope, period and reason of verification probes: names no customer denies, so a strict
#: key policy still lets them through (``tenant_key_context(..., **VERIFICATION_USE)``).
VERIFICATION_USE: Final = {"scope": "byok-verification", "period": "2000-01",
                           "reason": "vendor-service"}  # fmt: skip
#: Calendar units a tenant's keys can be cut by (``byok:period``; UTC): ``2026-12``,
#: ``2026-12-03``, ``2026-12-03T10``.
PERIOD_UNITS = ("month", "day", "hour")
_PERIOD_FORMATS = {"month": "%Y-%m", "day": "%Y-%m-%d", "hour": "%Y-%m-%dT%H"}

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


def tenant_key_context(
    tenant: str,
    tk_id: str,
    *,
    scope: str | None = None,
    period: str | None = None,
    reason: str | None = None,
) -> dict[str, str]:
    """The KMS encryption context of a tenant key (docs/FORMAT.md#encryption-context).

    Args:
        tenant: the tenant id.
        tk_id: the TK id.
        scope: the collection the TK serves (``byok:scope``); None for TKs made before scopes.
        period: its calendar period, e.g. ``2026-12`` (``byok:period``); None likewise.
        reason: why this copy of the TK is used (``byok:reason``, one of
            :data:`ACCESS_REASONS`); None for TKs made before reasons.

    Returns:
        ``{"byok:tenant": tenant, "byok:tk": tk_id}`` plus scope, period and reason when given.

    Raises:
        InvalidInput: ``tenant``, ``tk_id``, ``scope`` or ``period`` is not a valid identifier,
            or ``reason`` is not an access reason.
    """
    encode_id(tenant, "tenant")
    encode_id(tk_id, "tk_id")
    context = {TENANT_CONTEXT_KEY: tenant, TK_CONTEXT_KEY: tk_id}
    if scope is not None:
        encode_id(scope, "scope")
        context[SCOPE_CONTEXT_KEY] = scope
    if period is not None:
        encode_id(period, "period")
        context[PERIOD_CONTEXT_KEY] = period
    if reason is not None:
        context[REASON_CONTEXT_KEY] = check_reason(reason)
    return context


def check_reason(reason: str, field: str = "reason") -> str:
    """Return ``reason`` if it is one of :data:`ACCESS_REASONS`.

    Raises:
        InvalidInput: naming ``field``, with the accepted reasons.
    """
    if reason not in ACCESS_REASONS:
        raise InvalidInput(
            field, f"{str(reason)!r:.40} is not an access reason",
            fix="Use one of: " + ", ".join(ACCESS_REASONS) + ".",
        )  # fmt: skip
    return reason


def with_reason(context: Mapping[str, str], reason: str) -> dict[str, str]:
    """``context`` with its ``byok:reason`` set to ``reason`` (the per-reason copy of a TK)."""
    return {**context, REASON_CONTEXT_KEY: check_reason(reason)}


def period_of(timestamp: float, unit: str = "month") -> str:
    """The UTC calendar period of a Unix time in ``unit`` (``2026-12``, ``2026-12-03``,
    ``2026-12-03T10``), as ``byok:period`` states it.

    Raises:
        InvalidInput: ``unit`` is not one of :data:`PERIOD_UNITS`.
    """
    form = _PERIOD_FORMATS.get(unit)
    if form is None:
        raise InvalidInput("period_unit", f"{str(unit)!r:.20} is not one of {PERIOD_UNITS}")
    return time.strftime(form, time.gmtime(timestamp))


def month_period(timestamp: float) -> str:
    """The UTC calendar month of a Unix time, as ``byok:period`` states it (``2026-12``)."""
    return period_of(timestamp, "month")


def period_end(period: str) -> float:
    """When a period (``YYYY-MM``, ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH``, UTC) ends, in Unix
    seconds; an unparsable period has ended (its TK rotates)."""
    for unit, form in _PERIOD_FORMATS.items():
        try:
            start = calendar.timegm(time.strptime(period, form))
        except (ValueError, TypeError):
            continue
        if time.strftime(form, time.gmtime(start)) != period:  # not canonical (zero padding)
            return -math.inf
        if unit == "hour":
            return float(start + 3600)
        if unit == "day":
            return float(start + 86400)
        year, month = time.gmtime(start)[:2]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return float(calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)))
    return -math.inf


def stored_key_context(tenant: str, tk_id: str, stored: Mapping[str, str] | None) -> dict[str, str]:
    """The exact KMS context to unwrap a stored TK with (the one it was wrapped under).

    Args:
        tenant: the tenant reading it.
        tk_id: the TK id named by the document or row.
        stored: the context recorded on the TK's row; None for TKs made before it was recorded
            (their context was always ``{byok:tenant, byok:tk}``).

    Returns:
        A copy of the context.

    Raises:
        IntegrityError: the recorded context names another tenant or TK, or holds a key byok
            never writes (fail closed: a tampered row is refused, not sent to KMS).
    """
    if stored is None:
        return tenant_key_context(tenant, tk_id)
    context = dict(stored)
    allowed = {
        TENANT_CONTEXT_KEY, TK_CONTEXT_KEY, SCOPE_CONTEXT_KEY, PERIOD_CONTEXT_KEY,
        REASON_CONTEXT_KEY,
    }  # fmt: skip
    if (
        context.get(TENANT_CONTEXT_KEY) != tenant
        or context.get(TK_CONTEXT_KEY) != tk_id
        or not set(context) <= allowed
        or not all(isinstance(v, str) and v for v in context.values())
        or context.get(REASON_CONTEXT_KEY, ACCESS_REASONS[0]) not in ACCESS_REASONS
    ):
        raise IntegrityError(
            "the tenant key's recorded encryption context does not match the key",
            tenant=tenant, operation="tk:context",
        )  # fmt: skip
    return context


def document_bound(context: Mapping[str, str] | None) -> dict[str, str]:
    """The pairs a document written under a TK with this KMS context binds besides tenant
    and document (docs/FORMAT.md#bound-context): its ``scope`` and ``period`` (none for TKs
    made before scopes)."""
    context = context or {}
    if SCOPE_CONTEXT_KEY in context and PERIOD_CONTEXT_KEY in context:
        return {"scope": context[SCOPE_CONTEXT_KEY], "period": context[PERIOD_CONTEXT_KEY]}
    return {}


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
