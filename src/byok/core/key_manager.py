"""Tenant keys for the envelope: made, cached, rotated and unwrapped per scope and reason.

:class:`TenantKeyManager` keeps, per (tenant, scope), a *current* tenant key (TK) to encrypt
with, made by one ``GenerateDataKey`` and persisted wrapped in a
:class:`~byok.core.tenant_keys.TenantKeyStore`. Its KMS encryption context names the tenant,
the TK, the scope, the calendar period and the access reason (docs/SECURITY.md#customer-levers):

* **Periods.** A TK serves one period of the tenant's unit (month, day or hour, UTC); the
  first write of a new period makes a new TK. So KMS calls grow with scopes times periods, never
  with documents.
* **Reasons.** KMS unwraps only under the exact context, so a TK is wrapped once per reason:
  the primary copy (``vendor-service``, made by GenerateDataKey), a ``kms:Encrypt`` copy for
  ``customer-request`` made with it (so 2 KMS calls per TK), and a copy for ``vendor-support``
  made at its first use (one Decrypt of the primary, one Encrypt). Plaintext TKs are cached
  per reason and a cached TK is never used for another reason than the one KMS last allowed
  it for. A copy the customer's policy refused is made again the same way once allowed.
* **Refusals.** A "no access" answer to a call that carries a scope, period or reason is
  classified (:mod:`byok.core.refusals`): a refusal of only that use raises
  :class:`~byok.errors.UseRefused` and purges nothing else; a whole-key denial purges the
  tenant's cached keys at once and re-raises. Refusals are remembered for
  :data:`REFUSAL_MEMO_S` so a refused scope does not cost KMS probes on every request.
* Single flight and refresh-ahead come from :class:`~byok.core.keycache.TenantKeyCache`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeVar

from byok.core.context import (
    TK_CONTEXT_KEY,
    period_end,
    period_of,
    tenant_key_context,
    with_reason,
)
from byok.core.format import integrity_error
from byok.core.key_use import CUSTOMER_REQUEST, VENDOR_SERVICE, KeyUse
from byok.core.keycache import TenantKeyCache
from byok.core.keywrap import KeyWrapper
from byok.core.raw_keys import TenantKey
from byok.core.refusals import LEVER_KEYS, classify_refusal, dimension
from byok.core.tenant_keys import RotationPolicy, TenantKeyStore, WrappedTenantKey
from byok.errors import ByokError, CustomerAccessError, KeyAccessDenied, UseRefused

__all__ = ["EAGER_COPIES", "REFUSAL_MEMO_S", "Emit", "TenantKeyManager"]

_T = TypeVar("_T")
#: How long a classified refusal is answered without asking KMS again (seconds).
REFUSAL_MEMO_S: Final = 2.0
#: Reasons whose copy is made with every TK (one kms:Encrypt each); ``vendor-support`` is
#: rare, so its copy is made at its first use (one Decrypt of the primary and one Encrypt).
EAGER_COPIES: Final = (CUSTOMER_REQUEST,)
_PROBE_PLAINTEXT: Final = b"\x00" * 32

#: ``emit(operation, tenant, tk_id, key_arn, request_id, outcome, context)``: the audit hook.
Emit = Callable[[str, str, "str | None", str, "str | None", str, "Mapping[str, str] | None"], None]


@dataclass
class _Current:
    """The TK a (tenant, scope) encrypts with in this process, and how many documents."""

    record: WrappedTenantKey
    wrapper_arn: str
    unit: str
    documents: int = 0
    period_ends: float = field(init=False)

    def __post_init__(self) -> None:
        period = self.record.period
        self.period_ends = math.inf if period is None else period_end(period)


class TenantKeyManager:
    """See the module docstring.

    Args:
        store: where wrapped TKs and their copies are persisted.
        cache: the plaintext TK cache (its TTL is the revocation bound).
        rotation: when to make a new TK besides a new period.
        clock: wall clock, Unix seconds.
        rng: randomness for TK ids.
        emit: the audit hook (one call per KMS call, refusal probe and purge).
    """

    def __init__(
        self,
        store: TenantKeyStore,
        cache: TenantKeyCache,
        rotation: RotationPolicy,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[int], bytes] = os.urandom,
        emit: Emit | None = None,
    ) -> None:
        self._store = store
        self.cache = cache
        self._rotation = rotation
        self._clock = clock
        self._rng = rng
        self._emit_hook = emit
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str], _Current] = {}
        self._tenant_locks: dict[str, threading.Lock] = {}
        self._refused: dict[tuple[str, str, str], float] = {}

    # -- the envelope's entry points -------------------------------------------------------

    def for_writing(self, tenant: str, wrapper: KeyWrapper, use: KeyUse) -> TenantKey:
        """The current TK of ``use.scope`` (made, unwrapped or rotated as needed).

        Raises:
            UseRefused: the customer's policy refuses this scope, period or reason.
            CustomerAccessError: the key as a whole is denied (the tenant was purged).
            TransientKmsError: KMS trouble.
        """
        current = self._current.get((tenant, use.scope))
        if (
            current is not None and current.wrapper_arn == wrapper.key_arn
            and current.unit == use.period_unit and self._take_slot(current)
        ):  # fmt: skip
            # Single flight and refresh-ahead (byok.core.keycache): an expiring current TK is
            # re-proved by one writer while the others keep using it.
            return self._key(tenant, wrapper, current.record, use.reason)
        with self._tenant_lock(tenant):
            return self._refresh_current(tenant, wrapper, use)

    def for_reading(self, tenant: str, wrapper: KeyWrapper, tk_id: str, use: KeyUse) -> TenantKey:
        """The TK ``tk_id`` of ``tenant``, unwrapped for ``use.reason``.

        Raises:
            IntegrityError: the tenant has no TK ``tk_id``.
            UseRefused, CustomerAccessError, TransientKmsError: as :meth:`for_writing`.
        """

        def load() -> TenantKey:
            record = self._store.get(tenant, tk_id)
            if record is None:  # a TK id this tenant never had: the document is not theirs
                raise integrity_error()
            return self._unwrap(tenant, wrapper, record, use.reason)

        return self._cached(tenant, wrapper.key_arn, tk_id, use.reason, load)

    def rotate(self, tenant: str, wrapper: KeyWrapper, use: KeyUse) -> WrappedTenantKey:
        """Make a new TK for (tenant, ``use.scope``) now; it becomes current."""
        with self._tenant_lock(tenant):
            record, _ = self._create(tenant, wrapper, use, documents=0)
        return record

    def purge_tenant(self, tenant: str) -> int:
        """Forget every plaintext TK of ``tenant`` in this process; returns how many."""
        with self._lock:
            for slot in [s for s in self._current if s[0] == tenant]:
                del self._current[slot]
            for memo in [m for m in self._refused if m[0] == tenant]:
                del self._refused[memo]
        return self.cache.purge_tenant(tenant)

    # -- current TKs -----------------------------------------------------------------------

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

    def _refresh_current(self, tenant: str, wrapper: KeyWrapper, use: KeyUse) -> TenantKey:
        """Slow path (tenant lock held): reload, unwrap or rotate the scope's current TK."""
        arn, slot = wrapper.key_arn, (tenant, use.scope)
        current = self._current.get(slot)
        if current is not None and current.wrapper_arn == arn and current.unit == use.period_unit:
            key = self.cache.get(tenant, current.record.tk_id, arn, use.reason)
            if key is not None and self._take_slot(current):  # another thread refreshed
                return key
        record = self._store.current(tenant, use.scope)
        done = 0
        if current is not None and record is not None and current.record.tk_id == record.tk_id:
            done = current.documents
        now = self._clock()
        if (
            record is None
            or record.key_arn != arn  # the tenant moved to another CMK: new TK under it
            or record.reason is None  # made before reasons: new TKs state them
            or record.period != period_of(now, use.period_unit)  # a new period (or unit)
            or self._rotation.is_due(record.created_at, done, now)
        ):
            return self._create(tenant, wrapper, use, documents=1)[1]
        key = self._key(tenant, wrapper, record, use.reason)
        with self._lock:
            self._current[slot] = _Current(record, arn, use.period_unit, done + 1)
        return key

    def _create(
        self, tenant: str, wrapper: KeyWrapper, use: KeyUse, documents: int
    ) -> tuple[WrappedTenantKey, TenantKey]:
        """Make, persist and cache a new TK and its eager copies (2 KMS calls)."""
        arn, tk_id, now = wrapper.key_arn, "tk_" + self._rng(16).hex(), self._clock()
        context = tenant_key_context(
            tenant, tk_id, scope=use.scope, period=period_of(now, use.period_unit),
            reason=VENDOR_SERVICE,
        )  # fmt: skip
        data_key = self._kms(
            "kms:GenerateDataKey", tenant, context, wrapper,
            lambda: wrapper.generate_data_key(context),
        )  # fmt: skip
        record = WrappedTenantKey(
            tenant, tk_id, data_key.key_arn, data_key.wrapped, now, context=context
        )
        self._store.add(record)
        key = TenantKey(tenant, tk_id, data_key.plaintext, bound=record.bound)
        self.cache.put(arn, key, VENDOR_SERVICE)
        refused: UseRefused | None = None
        for reason in dict.fromkeys((*EAGER_COPIES, use.reason)):
            if reason != VENDOR_SERVICE:
                try:
                    self._copy(tenant, wrapper, record, key, reason)
                except UseRefused as error:  # this reason has no copy until it is allowed
                    refused = error if reason == use.reason else refused
        with self._lock:
            self._current[tenant, use.scope] = _Current(record, arn, use.period_unit, documents)
        if refused is not None:
            raise refused
        return record, key

    # -- unwrapping ------------------------------------------------------------------------

    def _key(
        self, tenant: str, wrapper: KeyWrapper, record: WrappedTenantKey, reason: str
    ) -> TenantKey:
        return self._cached(
            tenant, wrapper.key_arn, record.tk_id, reason,
            lambda: self._unwrap(tenant, wrapper, record, reason),
        )  # fmt: skip

    def _cached(
        self, tenant: str, arn: str, tk_id: str, reason: str, load: Callable[[], TenantKey]
    ) -> TenantKey:
        try:
            return self.cache.get_or_load(tenant, tk_id, arn, load, reason)
        except UseRefused:
            self.cache.forget(tenant, tk_id, arn, reason)  # a refused refresh ends the entry
            raise

    def _unwrap(
        self, tenant: str, wrapper: KeyWrapper, record: WrappedTenantKey, reason: str
    ) -> TenantKey:
        """Unwrap ``record`` for ``reason`` (one kms:Decrypt; the cache stores it)."""
        primary = record.kms_context()  # exactly what it was wrapped under
        context, wrapped = primary, record.wrapped
        if record.reason is not None and record.reason != reason:
            context = with_reason(primary, reason)
            copy = self._store.copy(tenant, record.tk_id, reason)
            if copy is None:
                return self._remake_copy(tenant, wrapper, record, reason)
            wrapped = copy
        unwrapped = self._kms(
            "kms:Decrypt", tenant, context, wrapper, lambda: wrapper.unwrap(wrapped, context)
        )
        return TenantKey(tenant, record.tk_id, unwrapped.plaintext, bound=record.bound)

    def _remake_copy(
        self, tenant: str, wrapper: KeyWrapper, record: WrappedTenantKey, reason: str
    ) -> TenantKey:
        """A copy not made with the TK (a rare reason, or one refused then): unwrap the primary
        (vendor-service), then wrap for ``reason``; KMS allowing that Encrypt is the proof
        ``reason`` is allowed now."""
        primary = record.kms_context()
        self._check_memo(tenant, with_reason(primary, reason))  # refused lately: ask nothing
        unwrapped = self._kms(
            "kms:Decrypt", tenant, primary, wrapper, lambda: wrapper.unwrap(record.wrapped, primary)
        )
        key = TenantKey(tenant, record.tk_id, unwrapped.plaintext, bound=record.bound)
        self._copy(tenant, wrapper, record, key, reason)
        return key

    def _copy(
        self, tenant: str, wrapper: KeyWrapper, record: WrappedTenantKey, key: TenantKey,
        reason: str,
    ) -> None:  # fmt: skip
        """Wrap ``key`` for ``reason`` (kms:Encrypt), keep the copy, cache the key for it.

        Raises:
            UseRefused: the customer's policy refuses ``reason`` (the call just before under
                the same scope and period was allowed, so the reason is what it refuses).
        """
        context = with_reason(record.kms_context(), reason)
        copy = self._kms(
            "kms:Encrypt", tenant, context, wrapper,
            lambda: wrapper.encrypt(key.material, context),
            refused=lambda: UseRefused({"reason": reason}, tenant=tenant, operation="kms:Encrypt"),
        )  # fmt: skip
        self._store.add_copy(tenant, record.tk_id, reason, copy.wrapped, wrapper.key_arn)
        self.cache.put(wrapper.key_arn, key, reason)

    # -- KMS calls, refusals and audit -----------------------------------------------------

    def _kms(
        self, operation: str, tenant: str, context: Mapping[str, str], wrapper: KeyWrapper,
        call: Callable[[], _T], refused: Callable[[], UseRefused] | None = None,
    ) -> _T:  # fmt: skip
        """Run one key-wrapper call: audit it; on "no access", refuse the use or purge."""
        arn, tk_id = wrapper.key_arn, context[TK_CONTEXT_KEY]
        self._check_memo(tenant, context)
        try:
            result = call()
        except KeyAccessDenied as error:
            self._emit(operation, tenant, tk_id, arn, None, type(error).__name__, context)
            use_refused = (
                refused() if refused is not None else self._classify(tenant, context, wrapper)
            )
            if use_refused is None:
                self._purge(tenant, arn, error)
                raise
            self._remember(tenant, use_refused)
            raise use_refused from None
        except CustomerAccessError as error:
            self._emit(operation, tenant, tk_id, arn, None, type(error).__name__, context)
            self._purge(tenant, arn, error)
            raise
        except ByokError as error:
            self._emit(operation, tenant, tk_id, arn, None, type(error).__name__, context)
            raise
        request_id = getattr(result, "request_id", None)
        self._emit(operation, tenant, tk_id, arn, request_id, "ok", context)
        return result

    def _classify(
        self, tenant: str, context: Mapping[str, str], wrapper: KeyWrapper
    ) -> UseRefused | None:
        def probe(probe_context: Mapping[str, str]) -> object:
            try:
                answer = wrapper.encrypt(_PROBE_PLAINTEXT, probe_context)
            except KeyAccessDenied as error:
                self._emit("kms:Encrypt", tenant, probe_context[TK_CONTEXT_KEY],
                           wrapper.key_arn, None, type(error).__name__, probe_context)  # fmt: skip
                raise
            self._emit("kms:Encrypt", tenant, probe_context[TK_CONTEXT_KEY], wrapper.key_arn,
                       answer.request_id, "ok", probe_context)  # fmt: skip
            return answer

        refused = classify_refusal(context, probe)
        if refused is None:
            return None
        return UseRefused(refused, tenant=tenant, operation="tk:use")

    def _check_memo(self, tenant: str, context: Mapping[str, str]) -> None:
        if not self._refused:
            return
        now = time.monotonic()
        with self._lock:
            refused = {
                dimension(key): context[key] for key in LEVER_KEYS
                if key in context and self._refused.get((tenant, key, context[key]), 0) > now
            }  # fmt: skip
        if refused:
            raise UseRefused(refused, tenant=tenant, operation="tk:use")

    def _remember(self, tenant: str, refused: UseRefused) -> None:
        keys = {name: key for key, name in LEVER_KEYS.items()}
        until = time.monotonic() + REFUSAL_MEMO_S
        with self._lock:
            for name, value in refused.refused.items():
                self._refused[tenant, keys[name], value] = until

    def _purge(self, tenant: str, arn: str, error: ByokError) -> None:
        self.purge_tenant(tenant)
        self._emit("cache:purge", tenant, None, arn, None, type(error).__name__, None)

    def _emit(
        self, operation: str, tenant: str, tk_id: str | None, arn: str, request_id: str | None,
        outcome: str, context: Mapping[str, str] | None,
    ) -> None:  # fmt: skip
        if self._emit_hook is not None:
            self._emit_hook(operation, tenant, tk_id, arn, request_id, outcome, context)

    def _tenant_lock(self, tenant: str) -> threading.Lock:
        with self._lock:
            lock = self._tenant_locks.get(tenant)
            if lock is None:
                lock = self._tenant_locks[tenant] = threading.Lock()
            return lock
