"""Envelope: encrypt and decrypt tenants' documents with almost no KMS calls.

For each tenant the :class:`Envelope` keeps a *current* tenant key (TK) to encrypt with, made by
one ``GenerateDataKey`` on the tenant's CMK and persisted wrapped in a
:class:`~byok.core.tenant_keys.TenantKeyStore`. Plaintext TKs live only in a
:class:`~byok.core.keycache.TenantKeyCache` whose TTL is the revocation bound; after it each
TK costs one unwrap (``kms:Decrypt``) again. So a process makes one GenerateDataKey per new TK
and one Decrypt per TK per TTL, whatever the number of documents (DESIGN.md "Key hierarchy").

- Rotation (:class:`~byok.core.tenant_keys.RotationPolicy`): a new TK when the current one is
  too old or encrypted too many documents in this process; old TKs stay readable.
- Fail closed: any :class:`~byok.errors.CustomerAccessError` from the key wrapper purges the
  tenant's cached keys at once and is re-raised.
- Single flight: concurrent misses for one tenant make one KMS call, not one per thread.
- Audit: an optional hook receives a :class:`KeyEvent` per KMS call and per purge (operation,
  tenant, TK id, KMS request id, outcome), never key bytes. Exceptions from the hook propagate
  (an unauditable KMS use fails the operation).

Document format: ``docs/FORMAT.md``; the encryption context: ``docs/FORMAT.md#encryption-context``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from byok.core.bound_context import BoundContext
from byok.core.context import (
    DEFAULT_SCOPE,
    TK_CONTEXT_KEY,
    month_period,
    period_end,
    tenant_key_context,
)
from byok.core.format import DEFAULT_FRAME_SIZE, Header, check_frame_size, integrity_error
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
from byok.errors import ByokError, CustomerAccessError

__all__ = ["AuditHook", "Envelope", "KeyEvent"]

_T = TypeVar("_T")


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


@dataclass
class _Current:
    """The TK a tenant encrypts with in this process, and how many documents it encrypted."""

    record: WrappedTenantKey
    wrapper_arn: str
    documents: int = 0
    #: When the TK's period ends (Unix seconds; inf for TKs made before periods).
    period_ends: float = field(init=False)

    def __post_init__(self) -> None:
        period = self.record.period
        self.period_ends = math.inf if period is None else period_end(period)


class Envelope:
    """Tenant-key manager and document encryption for every tenant of one process.

    Args:
        store: where wrapped TKs are persisted.
        cache: the plaintext TK cache (its TTL is the revocation bound). Default: 300 s.
        rotation: when to make a new TK.
        frame_size: frame size of new documents (docs/FORMAT.md#frame-size).
        clock: wall clock, Unix seconds (TK ``created_at`` and rotation by age).
        rng: randomness for TK ids and document salts.
        audit: optional hook receiving a :class:`KeyEvent` per KMS call and purge.

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
        self._store = store
        self._cache = cache if cache is not None else TenantKeyCache()
        self._rotation = rotation if rotation is not None else RotationPolicy()
        self._frame_size = check_frame_size(frame_size)
        self._clock = clock
        self._rng = rng
        self._audit = audit
        self._lock = threading.Lock()
        self._current: dict[str, _Current] = {}
        self._tenant_locks: dict[str, threading.Lock] = {}

    @property
    def cache(self) -> TenantKeyCache:
        """The plaintext TK cache."""
        return self._cache

    # -- documents -------------------------------------------------------------------------

    def encrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, plaintext: Buffer
    ) -> bytearray:
        """Encrypt a whole document under the tenant's current TK.

        Returns:
            The encrypted document (docs/FORMAT.md), a new ``bytearray``.

        Raises:
            InvalidInput: malformed tenant, document id or plaintext.
            CustomerAccessError: the tenant's CMK refused (the tenant's cache was purged).
            TransientKmsError: KMS trouble while making or unwrapping the TK.
        """
        key = self._key_for_writing(tenant, wrapper)
        return encrypt_bytes(
            plaintext, key, document_id, frame_size=self._frame_size, rng=self._rng
        )

    def decrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, ciphertext: Buffer
    ) -> bytearray:
        """Decrypt a whole document of ``tenant`` stored as ``document_id``.

        Returns:
            The plaintext, a new ``bytearray``.

        Raises:
            IntegrityError: altered, truncated, or another tenant's or document's ciphertext,
                or a TK id the tenant does not have.
            InvalidInput: malformed tenant or document id.
            CustomerAccessError: the tenant's CMK refused (the tenant's cache was purged).
            TransientKmsError: KMS trouble while unwrapping the TK.
        """
        return decrypt_bytes(ciphertext, self._lookup(tenant, wrapper, document_id), document_id)

    def encrypt_stream(
        self,
        tenant: str,
        wrapper: KeyWrapper,
        document_id: Expected,
        source: Source,
        sink: Writable,
    ) -> int:
        """Encrypt from ``source`` to ``sink`` in constant memory (see :meth:`encrypt`).

        Returns:
            The number of plaintext bytes encrypted.

        Raises:
            As :meth:`encrypt`.
        """
        key = self._key_for_writing(tenant, wrapper)
        return encrypt_stream(
            source, sink, key, document_id, frame_size=self._frame_size, rng=self._rng
        )

    def decrypt_stream(
        self,
        tenant: str,
        wrapper: KeyWrapper,
        document_id: Expected,
        source: Source,
        sink: Writable,
    ) -> int:
        """Decrypt from ``source`` to ``sink``, writing only verified frames.

        On an exception the sink may already hold earlier verified frames: the document as a
        whole is then not authentic (docs/FORMAT.md#streaming).

        Returns:
            The number of plaintext bytes written.

        Raises:
            As :meth:`decrypt`.
        """
        lookup = self._lookup(tenant, wrapper, document_id)
        return decrypt_stream(source, sink, lookup, document_id)

    def iter_encrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, source: Source
    ) -> Iterator[bytes]:
        """Encrypt lazily: an iterator of ciphertext chunks (header, then frames).

        Returns:
            The iterator (the TK is obtained before this returns).

        Raises:
            As :meth:`encrypt`.
        """
        key = self._key_for_writing(tenant, wrapper)
        return iter_encrypt(source, key, document_id, frame_size=self._frame_size, rng=self._rng)

    def iter_decrypt(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected, source: Source
    ) -> Decryption:
        """Decrypt lazily: an iterator of verified plaintext chunks.

        The header and key are checked before this returns; an exception while iterating
        means the document is not authentic (docs/FORMAT.md#streaming).

        Returns:
            The iterator.

        Raises:
            As :meth:`decrypt`.
        """
        return iter_decrypt(source, self._lookup(tenant, wrapper, document_id), document_id)

    # -- tenant keys -----------------------------------------------------------------------

    def rotate(self, tenant: str, wrapper: KeyWrapper) -> WrappedTenantKey:
        """Make a new TK for ``tenant`` now (one GenerateDataKey); it becomes current.

        Returns:
            The new wrapped TK (already added to the store).

        Raises:
            CustomerAccessError, TransientKmsError: as :meth:`encrypt`.
        """
        with self._tenant_lock(tenant):
            record, _ = self._create(tenant, wrapper, documents=0)
        return record

    def purge_tenant(self, tenant: str) -> int:
        """Forget every plaintext TK of ``tenant`` in this process.

        Returns:
            How many cached keys were dropped.
        """
        with self._lock:
            self._current.pop(tenant, None)
        return self._cache.purge_tenant(tenant)

    def _key_for_writing(self, tenant: str, wrapper: KeyWrapper) -> TenantKey:
        arn = wrapper.key_arn
        current = self._current.get(tenant)
        if current is not None and current.wrapper_arn == arn and self._take_slot(current):
            # Single flight and refresh-ahead (byok.core.keycache): an expiring current TK is
            # re-proved by one writer while the others keep using it.
            return self._cached_or_unwrapped(tenant, wrapper, current.record)
        with self._tenant_lock(tenant):
            return self._refresh_current(tenant, wrapper)

    def _take_slot(self, current: _Current) -> bool:
        """Count one more document under ``current`` unless it is due for rotation."""
        now, policy = self._clock(), self._rotation
        with self._lock:  # RotationPolicy.is_due, inlined: this runs for every document
            if (
                current.documents >= policy.max_documents
                or now - current.record.created_at >= policy.max_age_s
                or now >= current.period_ends
            ):
                return False
            current.documents += 1
            return True

    def _refresh_current(self, tenant: str, wrapper: KeyWrapper) -> TenantKey:
        """Slow path (tenant lock held): reload, unwrap or rotate the current TK."""
        arn = wrapper.key_arn
        current = self._current.get(tenant)
        if current is not None and current.wrapper_arn == arn:  # another thread refreshed
            key = self._cache.get(tenant, current.record.tk_id, arn)
            if key is not None and self._take_slot(current):
                return key
        record = self._store.current(tenant)
        done = 0
        if current is not None and record is not None and current.record.tk_id == record.tk_id:
            done = current.documents
        if (
            record is None
            or record.key_arn != arn  # the tenant moved to another CMK: new TK under it
            or self._rotation.is_due(record.created_at, done, self._clock())
            or record.period not in (None, month_period(self._clock()))  # a new month: new TK
        ):
            _, key = self._create(tenant, wrapper, documents=1)
            return key
        key = self._cached_or_unwrapped(tenant, wrapper, record)
        with self._lock:
            self._current[tenant] = _Current(record, arn, done + 1)
        return key

    def _create(
        self, tenant: str, wrapper: KeyWrapper, documents: int
    ) -> tuple[WrappedTenantKey, TenantKey]:
        """Make, persist and cache a new TK (one GenerateDataKey); it becomes current."""
        arn = wrapper.key_arn
        tk_id = "tk_" + self._rng(16).hex()
        now = self._clock()
        context = tenant_key_context(tenant, tk_id, scope=DEFAULT_SCOPE, period=month_period(now))
        data_key = self._kms(
            "kms:GenerateDataKey", tenant, context, arn, lambda: wrapper.generate_data_key(context)
        )
        key = TenantKey(tenant, tk_id, data_key.plaintext)
        record = WrappedTenantKey(
            tenant, tk_id, data_key.key_arn, data_key.wrapped, now, context=context
        )
        self._store.add(record)
        self._cache.put(arn, key)
        with self._lock:
            self._current[tenant] = _Current(record, arn, documents)
        return record, key

    def _cached_or_unwrapped(
        self, tenant: str, wrapper: KeyWrapper, record: WrappedTenantKey
    ) -> TenantKey:
        """The TK from the cache, or unwrapped once for every concurrent caller."""
        return self._cache.get_or_load(
            tenant, record.tk_id, wrapper.key_arn, lambda: self._unwrap(tenant, wrapper, record)
        )

    def _unwrap(self, tenant: str, wrapper: KeyWrapper, record: WrappedTenantKey) -> TenantKey:
        """Unwrap a stored TK (one kms:Decrypt); the cache stores it (get_or_load)."""
        arn = wrapper.key_arn
        context = record.kms_context()  # exactly what it was wrapped under
        unwrapped = self._kms(
            "kms:Decrypt",
            tenant,
            context,
            arn,
            lambda: wrapper.unwrap(record.wrapped, context),
        )
        return TenantKey(tenant, record.tk_id, unwrapped.plaintext)

    def _lookup(
        self, tenant: str, wrapper: KeyWrapper, document_id: Expected
    ) -> Callable[[Header], TenantKey]:
        """A key lookup for the format layer: docs/FORMAT.md#decryption steps 2-3."""

        document = document_id.document if isinstance(document_id, BoundContext) else document_id

        def lookup(header: Header) -> TenantKey:
            # Cheap checks first: a header for another tenant or document costs no KMS call
            # (the format layer then compares the whole bound context).
            if header.tenant != tenant or header.document_id != document:
                raise integrity_error()
            return self._key_for_reading(tenant, wrapper, header.tk_id)

        return lookup

    def _key_for_reading(self, tenant: str, wrapper: KeyWrapper, tk_id: str) -> TenantKey:
        def load() -> TenantKey:
            record = self._store.get(tenant, tk_id)
            if record is None:  # a TK id this tenant never had: the document is not theirs
                raise integrity_error()
            return self._unwrap(tenant, wrapper, record)

        # Single flight: concurrent misses make one kms:Decrypt and share its outcome.
        return self._cache.get_or_load(tenant, tk_id, wrapper.key_arn, load)

    def _kms(
        self, operation: str, tenant: str, context: Mapping[str, str], arn: str,
        call: Callable[[], _T],
    ) -> _T:  # fmt: skip
        """Run one key-wrapper call: audit it, and purge the tenant on "no access"."""
        tk_id = context[TK_CONTEXT_KEY]
        try:
            result = call()
        except CustomerAccessError as error:
            self._emit(operation, tenant, tk_id, arn, None, type(error).__name__, context)
            self.purge_tenant(tenant)
            self._emit("cache:purge", tenant, None, arn, None, type(error).__name__)
            raise
        except ByokError as error:
            self._emit(operation, tenant, tk_id, arn, None, type(error).__name__, context)
            raise
        request_id = getattr(result, "request_id", None)
        self._emit(operation, tenant, tk_id, arn, request_id, "ok", context)
        return result

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

    def _tenant_lock(self, tenant: str) -> threading.Lock:
        with self._lock:
            lock = self._tenant_locks.get(tenant)
            if lock is None:
                lock = self._tenant_locks[tenant] = threading.Lock()
            return lock
