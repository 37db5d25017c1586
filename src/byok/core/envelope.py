"""Envelope: encrypt and decrypt tenants' documents with almost no KMS calls.

For each tenant and scope the :class:`Envelope` keeps a *current* tenant key (TK) to encrypt
with, made by one ``GenerateDataKey`` on the tenant's CMK and persisted wrapped in a
:class:`~byok.core.tenant_keys.TenantKeyStore` (:mod:`byok.core.key_manager`). Plaintext TKs
live only in a :class:`~byok.core.keycache.TenantKeyCache` whose TTL is the revocation bound;
after it each TK costs one unwrap (``kms:Decrypt``) per access reason again. So a process makes
two KMS calls per new TK (its primary and its customer-request copy) and one Decrypt per TK and
reason in use per TTL, whatever the number of documents (DESIGN.md "Key hierarchy").

- Every call states a :class:`~byok.core.key_use.KeyUse`: the access reason, the scope and
  the period unit, which go into the TK's KMS context (docs/SECURITY.md#customer-levers).
- Rotation (:class:`~byok.core.tenant_keys.RotationPolicy`): a new TK when the current one is
  too old, encrypted too many documents in this process, or its period ended.
- Fail closed: a whole-key "no access" purges the tenant's cached keys at once and is
  re-raised; a refusal of one scope, period or reason raises :class:`~byok.errors.UseRefused`.
- Single flight: concurrent misses for one tenant make one KMS call, not one per thread.
- Audit: an optional hook receives a :class:`KeyEvent` per KMS call and per purge (operation,
  tenant, TK id, KMS request id, outcome), never key bytes. Exceptions from the hook propagate
  (an unauditable KMS use fails the operation).

Document format: ``docs/FORMAT.md``; the encryption context: ``docs/FORMAT.md#encryption-context``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from byok.core.bound_context import BoundContext
from byok.core.format import DEFAULT_FRAME_SIZE, Header, check_frame_size, integrity_error
from byok.core.key_manager import TenantKeyManager
from byok.core.key_use import SERVICE_USE, KeyUse
from byok.core.keycache import TenantKeyCache
from byok.core.keywrap import KeyWrapper
from byok.core.raw_keys import TenantKey
from byok.core.sources import Buffer, Source, Writable
from byok.core.stream import (
    Decryption,
    Expected,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
    iter_decrypt,
    iter_encrypt,
)
from byok.core.tenant_keys import RotationPolicy, TenantKeyStore, WrappedTenantKey

__all__ = ["AuditHook", "Envelope", "KeyEvent"]


@dataclass(frozen=True)
class KeyEvent:
    """One auditable key operation. Identifiers only, never key material.

    Attributes:
        operation: ``kms:GenerateDataKey``, ``kms:Decrypt`` or ``cache:purge``.
        tenant: the tenant.
        tk_id: the tenant key concerned (None for a purge).
        key_arn: the CMK (as the tenant's key wrapper names it).
        request_id: the KMS request id, to line up with the customer's CloudTrail.
        outcome: ``ok``, or the error class name (for a purge: the error that caused it).
        context: the KMS encryption context of the call (None for a purge).
    """

    operation: str
    tenant: str
    tk_id: str | None
    key_arn: str
    request_id: str | None
    outcome: str
    context: Mapping[str, str] | None = None


AuditHook = Callable[[KeyEvent], None]


class Envelope:
    """Tenant-key manager and document encryption for every tenant of one process.

    Args:
        store: where wrapped TKs are persisted.
        cache: the plaintext TK cache (its TTL is the revocation bound). Default: 300 s.
        rotation: when to make a new TK.
        frame_size: frame size of new documents (docs/FORMAT.md#frame-size).
        clock: wall clock, Unix seconds (TK ``created_at``, periods and rotation by age).
        rng: randomness for TK ids and document salts.
        audit: optional hook receiving a :class:`KeyEvent` per KMS call and purge.

    Every document method takes ``use``: why and in which scope the key is used (default: the
    vendor's own service in the default scope).

    Raises:
        InvalidInput: ``frame_size`` out of range.
    """

    def __init__(
        self,
        store: TenantKeyStore,
        *,
        cache: TenantKeyCache | None = None,
        rotation: RotationPolicy | None = None,
        frame_size: int = DEFAULT_FRAME_SIZE,
        clock: Callable[[], float] = time.time,
        rng: Callable[[int], bytes] = os.urandom,
        audit: AuditHook | None = None,
    ) -> None:
        self._frame_size = check_frame_size(frame_size)
        self._rng = rng
        self._audit = audit
        self.keys = TenantKeyManager(
            store, cache if cache is not None else TenantKeyCache(),
            rotation if rotation is not None else RotationPolicy(),
            clock=clock, rng=rng, emit=self._emit,
        )  # fmt: skip

    @property
    def cache(self) -> TenantKeyCache:
        """The plaintext TK cache."""
        return self.keys.cache

    # -- documents -------------------------------------------------------------------------

    def encrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, plaintext: Buffer,
        use: KeyUse = SERVICE_USE,
    ) -> bytearray:  # fmt: skip
        """Encrypt a whole document under the tenant's current TK of ``use.scope``.

        Returns:
            The encrypted document (docs/FORMAT.md), a new ``bytearray``.

        Raises:
            InvalidInput: malformed tenant, document id or plaintext.
            UseRefused: the customer's key policy refuses this scope, period or reason.
            CustomerAccessError: the tenant's CMK refused (the tenant's cache was purged).
            TransientKmsError: KMS trouble while making or unwrapping the TK.
        """
        key, bound = self._for_writing(tenant, wrapper, document_id, use)
        return encrypt_bytes(plaintext, key, bound, frame_size=self._frame_size, rng=self._rng)

    def decrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, ciphertext: Buffer,
        use: KeyUse = SERVICE_USE,
    ) -> bytearray:  # fmt: skip
        """Decrypt a whole document of ``tenant`` stored as ``document_id``.

        Returns:
            The plaintext, a new ``bytearray``.

        Raises:
            IntegrityError: altered, truncated, or another tenant's or document's ciphertext,
                or a TK id the tenant does not have.
            InvalidInput: malformed tenant or document id.
            UseRefused, CustomerAccessError, TransientKmsError: as :meth:`encrypt`.
        """
        lookup = self._lookup(tenant, wrapper, document_id, use)
        return decrypt_bytes(ciphertext, lookup, document_id)

    def encrypt_stream(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, source: Source,
        sink: Writable, use: KeyUse = SERVICE_USE,
    ) -> int:  # fmt: skip
        """Encrypt from ``source`` to ``sink`` in constant memory (see :meth:`encrypt`).

        Returns:
            The number of plaintext bytes encrypted.

        Raises:
            As :meth:`encrypt`.
        """
        key, bound = self._for_writing(tenant, wrapper, document_id, use)
        return encrypt_stream(source, sink, key, bound, frame_size=self._frame_size, rng=self._rng)

    def decrypt_stream(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, source: Source,
        sink: Writable, use: KeyUse = SERVICE_USE,
    ) -> int:  # fmt: skip
        """Decrypt from ``source`` to ``sink``, writing only verified frames.

        On an exception the sink may already hold earlier verified frames: the document as a
        whole is then not authentic (docs/FORMAT.md#streaming).

        Returns:
            The number of plaintext bytes written.

        Raises:
            As :meth:`decrypt`.
        """
        lookup = self._lookup(tenant, wrapper, document_id, use)
        return decrypt_stream(source, sink, lookup, document_id)

    def iter_encrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, source: Source,
        use: KeyUse = SERVICE_USE,
    ) -> Iterator[bytes]:  # fmt: skip
        """Encrypt lazily: an iterator of ciphertext chunks (header, then frames).

        Returns:
            The iterator (the TK is obtained before this returns).

        Raises:
            As :meth:`encrypt`.
        """
        key, bound = self._for_writing(tenant, wrapper, document_id, use)
        return iter_encrypt(source, key, bound, frame_size=self._frame_size, rng=self._rng)

    def iter_decrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, source: Source,
        use: KeyUse = SERVICE_USE,
    ) -> Decryption:  # fmt: skip
        """Decrypt lazily: an iterator of verified plaintext chunks.

        The header and key are checked before this returns; an exception while iterating
        means the document is not authentic (docs/FORMAT.md#streaming).

        Returns:
            The iterator.

        Raises:
            As :meth:`decrypt`.
        """
        lookup = self._lookup(tenant, wrapper, document_id, use)
        return iter_decrypt(source, lookup, document_id)

    # -- tenant keys -----------------------------------------------------------------------

    def rotate(
        self, tenant: str, wrapper: KeyWrapper, use: KeyUse = SERVICE_USE
    ) -> WrappedTenantKey:
        """Make a new TK for ``tenant`` (in ``use.scope``) now; it becomes current.

        Returns:
            The new wrapped TK (already added to the store).

        Raises:
            UseRefused, CustomerAccessError, TransientKmsError: as :meth:`encrypt`.
        """
        return self.keys.rotate(tenant, wrapper, use)

    def purge_tenant(self, tenant: str) -> int:
        """Forget every plaintext TK of ``tenant`` in this process.

        Returns:
            How many cached keys were dropped.
        """
        return self.keys.purge_tenant(tenant)

    def _for_writing(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, use: KeyUse
    ) -> tuple[TenantKey, Expected]:
        """The current TK, and the context to bind: the store's context also binds the TK's
        scope and period (docs/FORMAT.md#bound-context)."""
        key = self.keys.for_writing(tenant, wrapper, use)
        if isinstance(document_id, BoundContext):
            return key, document_id.extended(key.bound, key.bound_encoded)
        return key, document_id

    def _lookup(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, use: KeyUse
    ) -> Callable[[Header], TenantKey]:
        """A key lookup for the format layer: docs/FORMAT.md#decryption steps 2-3."""

        document = document_id.document if isinstance(document_id, BoundContext) else document_id

        def lookup(header: Header) -> TenantKey:
            # Cheap checks first: a header for another tenant or document costs no KMS call
            # (the format layer then compares the whole bound context).
            if header.tenant != tenant or header.document_id != document:
                raise integrity_error()
            return self.keys.for_reading(tenant, wrapper, header.tk_id, use)

        return lookup

    def _emit(
        self,
        operation: str,
        tenant: str,
        tk_id: str | None,
        arn: str,
        request_id: str | None,
        outcome: str,
        context: Mapping[str, str] | None = None,
    ) -> None:
        if self._audit is not None:
            self._audit(KeyEvent(operation, tenant, tk_id, arn, request_id, outcome, context))
