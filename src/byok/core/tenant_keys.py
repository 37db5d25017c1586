"""Wrapped tenant keys, where they are kept, and when to rotate them.

- :class:`WrappedTenantKey`: a TK as stored (its KMS-wrapped form; no plaintext).
- :class:`TenantKeyStore`: the small persistence protocol the envelope needs; the SQL store
  implements it, :class:`MemoryTenantKeyStore` is the in-memory twin for tests.
- :class:`RotationPolicy`: a new TK is made when the current one is too old or has encrypted
  too many documents; old TKs stay readable (DESIGN.md "Key hierarchy").
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from byok.core.context import (
    DEFAULT_SCOPE,
    PERIOD_CONTEXT_KEY,
    REASON_CONTEXT_KEY,
    SCOPE_CONTEXT_KEY,
    document_bound,
    stored_key_context,
)
from byok.errors import Conflict, InvalidInput

__all__ = [
    "MemoryTenantKeyStore",
    "RotationPolicy",
    "TenantKeyStore",
    "WrappedTenantKey",
]


@dataclass(frozen=True)
class WrappedTenantKey:
    """A tenant key as stored: wrapped by the tenant's CMK under its encryption context.

    Attributes:
        tenant: tenant id.
        tk_id: tenant-key id (``tk_`` + 32 hex digits when byok made it).
        key_arn: ARN of the CMK that wrapped it.
        wrapped: the KMS ciphertext blob (not secret, but long: hidden from ``repr``).
        created_at: creation time, Unix seconds (UTC), for age-based rotation.
        context: the exact KMS encryption context it was wrapped under (tenant, TK, scope,
            period); None for TKs made before it was recorded (``{byok:tenant, byok:tk}``).
    """

    tenant: str
    tk_id: str
    key_arn: str
    wrapped: bytes = field(repr=False)
    created_at: float
    context: Mapping[str, str] | None = None

    def kms_context(self) -> dict[str, str]:
        """The context to unwrap it with (docs/SECURITY.md#scoped-tenant-keys).

        Raises:
            IntegrityError: the recorded context names another tenant or TK.
        """
        return stored_key_context(self.tenant, self.tk_id, self.context)

    @property
    def period(self) -> str | None:
        """Its ``byok:period`` (None for TKs made before periods)."""
        return None if self.context is None else self.context.get(PERIOD_CONTEXT_KEY)

    @property
    def scope(self) -> str:
        """Its ``byok:scope`` (``default`` for TKs made before scopes)."""
        return (
            DEFAULT_SCOPE
            if self.context is None
            else self.context.get(SCOPE_CONTEXT_KEY, DEFAULT_SCOPE)
        )

    @property
    def reason(self) -> str | None:
        """The ``byok:reason`` of this (primary) wrapped copy; None before reasons."""
        return None if self.context is None else self.context.get(REASON_CONTEXT_KEY)

    @property
    def bound(self) -> dict[str, str]:
        """The pairs its documents bind (docs/FORMAT.md#bound-context): scope and period."""
        return document_bound(self.context)


@runtime_checkable
class TenantKeyStore(Protocol):
    """Where wrapped tenant keys are persisted. Implementations must be thread-safe."""

    def current(self, tenant: str, scope: str = DEFAULT_SCOPE) -> WrappedTenantKey | None:
        """Return the tenant's newest TK of ``scope`` (the one to encrypt with), or None."""
        ...

    def get(self, tenant: str, tk_id: str) -> WrappedTenantKey | None:
        """Return the tenant's TK with this id, or None (never another tenant's key)."""
        ...

    def add(self, key: WrappedTenantKey) -> None:
        """Persist a new TK; it becomes the tenant's current TK.

        Raises:
            Conflict: a TK with this (tenant, tk_id) already exists.
        """
        ...

    def copy(self, tenant: str, tk_id: str, reason: str) -> bytes | None:
        """The TK wrapped for ``reason`` (docs/SECURITY.md#access-reasons), or None."""
        ...

    def add_copy(self, tenant: str, tk_id: str, reason: str, wrapped: bytes, key_arn: str) -> None:
        """Keep the TK wrapped for ``reason`` by the root key ``key_arn`` (replacing an
        earlier copy for it)."""
        ...


class MemoryTenantKeyStore:
    """An in-memory :class:`TenantKeyStore` (tests, benchmarks, single-process demos)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], WrappedTenantKey] = {}
        self._current: dict[tuple[str, str], WrappedTenantKey] = {}
        self._copies: dict[tuple[str, str, str], bytes] = {}

    def current(self, tenant: str, scope: str = DEFAULT_SCOPE) -> WrappedTenantKey | None:
        """See :meth:`TenantKeyStore.current`."""
        with self._lock:
            return self._current.get((tenant, scope))

    def copy(self, tenant: str, tk_id: str, reason: str) -> bytes | None:
        """See :meth:`TenantKeyStore.copy`."""
        with self._lock:
            return self._copies.get((tenant, tk_id, reason))

    def add_copy(self, tenant: str, tk_id: str, reason: str, wrapped: bytes, key_arn: str) -> None:
        """See :meth:`TenantKeyStore.add_copy`."""
        with self._lock:
            self._copies[tenant, tk_id, reason] = bytes(wrapped)

    def get(self, tenant: str, tk_id: str) -> WrappedTenantKey | None:
        """See :meth:`TenantKeyStore.get`."""
        with self._lock:
            return self._keys.get((tenant, tk_id))

    def add(self, key: WrappedTenantKey) -> None:
        """See :meth:`TenantKeyStore.add`.

        Raises:
            Conflict: the (tenant, tk_id) pair exists already.
        """
        with self._lock:
            if (key.tenant, key.tk_id) in self._keys:
                raise Conflict("tenant key already exists", tenant=key.tenant, operation="tk:add")
            self._keys[key.tenant, key.tk_id] = key
            self._current[key.tenant, key.scope] = key

    def all(self, tenant: str) -> list[WrappedTenantKey]:
        """Every TK of ``tenant``, oldest first (for tests and re-wrapping)."""
        with self._lock:
            return [k for (t, _), k in self._keys.items() if t == tenant]


@dataclass(frozen=True)
class RotationPolicy:
    """When the current TK must be replaced by a new one.

    Attributes:
        max_age_s: a TK older than this (by ``created_at``) is no longer used to encrypt.
        max_documents: a TK that encrypted this many documents *in this process* is no longer
            used to encrypt (each process counts its own: with P processes a TK encrypts at
            most P times this many documents).

    Raises:
        InvalidInput: a bound that is not positive.
    """

    max_age_s: float = 30 * 24 * 3600.0
    max_documents: int = 1_000_000

    def __post_init__(self) -> None:
        if not self.max_age_s > 0:
            raise InvalidInput("max_age_s", "must be positive")
        if self.max_documents < 1:
            raise InvalidInput("max_documents", "must be at least 1")

    def is_due(self, created_at: float, documents: int, now: float) -> bool:
        """Whether a TK made at ``created_at``, used for ``documents``, must rotate at ``now``."""
        return documents >= self.max_documents or now - created_at >= self.max_age_s
