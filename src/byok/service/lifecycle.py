"""Key lifecycle operations on a :class:`~byok.service.vendor.Vendor`: key migration, forced
tenant-key rotation and offboarding with crypto-shredding (docs/OPERATIONS.md).

**Key migration** (:func:`migrate_tenant`) moves a tenant to a new, VERIFIED key configuration
(another CMK, Option A to B, another region's replica) without downtime:

1. the new version is activated at once, so new TKs and writes use the new CMK;
2. every TK row still under another configuration is re-wrapped in place: ``kms:ReEncrypt``
   when one principal may use both keys, else ``kms:Decrypt`` under the old key and
   ``kms:Encrypt`` under the new one, the plaintext TK only in memory; a TK already under the
   new CMK (same key, new access mode) is only relabelled, with no KMS call;
3. each row changes by one compare-and-swap (``byok.store.lifecycle.rewrap_in_place``), so
   it is always in its old or its new state. Progress is derived from the rows alone: a job
   killed at any point is resumed by running it again, and a finished one is a no-op.

Documents are never touched: one KMS call per TK, whatever the number of documents. Reads
keep working throughout through :class:`~byok.service.key_routing.TenantKeyRouter`. Once the
report says ``complete``, the old CMK can be disabled.

**Rotation** (:func:`rotate_tenant_key`) forces a new TK. **Offboarding**
(:func:`offboard_tenant`, from ``byok.service.offboarding``) crypto-shreds, then deletes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from byok.aws.kms import KmsKeyWrapper
from byok.errors import ByokError, Conflict, KeyAccessDenied, StateError
from byok.service.key_routing import KeyRouting
from byok.service.offboarding import OffboardReport, offboard_tenant
from byok.service.progress import QUIET, Progress
from byok.service.vendor import Vendor
from byok.store.leases import LeaseRepository
from byok.store.lifecycle import keys_by_arn, keys_to_migrate, migration_counts, rewrap_in_place
from byok.store.schema import KeyConfigState, TenantState
from byok.store.tenant_keys import StoredTenantKey
from byok.store.tenants import StoredKeyConfig

__all__ = [
    "MigrationReport",
    "OffboardReport",
    "RotationReport",
    "migrate_tenant",
    "offboard_tenant",
    "old_keys_in_use",
    "rotate_tenant_key",
]

REENCRYPT, DECRYPT_ENCRYPT, RELABEL = "kms:ReEncrypt", "kms:Decrypt+kms:Encrypt", "relabel"
#: Default wait after activation before the final sweep (> the service's 1 s config cache).
SETTLE_S = 2.0


@dataclass(frozen=True)
class MigrationReport:
    """What :func:`migrate_tenant` did.

    Attributes:
        tenant: the tenant.
        to_version: the configuration version now active.
        key_arn: its CMK.
        total: the tenant's TKs.
        already_done: TKs under the new version before this run (a resumed job).
        rewrapped: TKs re-wrapped in this run, by method (ReEncrypt, Decrypt+Encrypt, relabel).
        lost_races: TKs another job changed first (left to it).
        complete: every TK of the tenant is now under the new version.
        old_key_arns: CMKs that wrapped TKs before; none of them wraps any TK when complete.
        kms_calls: KMS calls this run made, per operation.
        seconds: wall time.
    """

    tenant: str
    to_version: int
    key_arn: str
    total: int
    already_done: int
    rewrapped: dict[str, int]
    lost_races: int
    complete: bool
    old_key_arns: tuple[str, ...]
    kms_calls: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (CLI ``--json``)."""
        return asdict(self)


def migrate_tenant(
    vendor: Vendor,
    tenant: str,
    *,
    to_version: int,
    progress: Progress = QUIET,
    routing: KeyRouting | None = None,
    lease_ttl_s: float = 60.0,
    holder: str | None = None,
    settle_s: float = SETTLE_S,
) -> MigrationReport:
    """Move ``tenant`` to key configuration ``to_version``; re-run to resume (module docstring).

    Args:
        vendor: the vendor service.
        tenant: the tenant id.
        to_version: a VERIFIED configuration version (or the ACTIVE one, to resume).
        progress: where to report progress (:class:`~byok.service.progress.RichProgress`).
        routing: finds the wrapper of old configurations (default: a new one).
        lease_ttl_s: how long the job's lease outlives a crashed job.
        holder: who holds the lease (default: host and process id).
        settle_s: the job ends no sooner than this after the activation, then sweeps once
            more: a process that had not yet seen the activation (the service caches a
            tenant's configuration for up to 1 s) may still add a TK under the old CMK.

    Returns:
        A :class:`MigrationReport`.

    Raises:
        StateError: the version is not VERIFIED/ACTIVE, or the tenant is not serving.
        Conflict: another migration of this tenant holds the lease.
        CustomerAccessError: the old or new key refused (rows done so far stay migrated).
        TransientKmsError, StorageError: trouble on the way; run it again to resume.
        NotFound: no such tenant or version.
    """
    started, calls_before = time.monotonic(), vendor.factory.counts()
    routing = routing or vendor.routing
    with _lease(vendor, tenant, holder, lease_ttl_s) as renew:
        target = _prepare(vendor, tenant, to_version)
        done, total = migration_counts(vendor.store, tenant, to_version)
        job = _Rewrapper(vendor, routing, target)
        try:
            with _reporting(progress, total, done):
                job.run(
                    _unsealed(vendor, keys_to_migrate(vendor.store, tenant, to_version)),
                    progress,
                    renew,
                )
                _settle(vendor, target, settle_s)
                job.run(
                    _unsealed(vendor, keys_to_migrate(vendor.store, tenant, to_version)),
                    progress,
                    renew,
                )
        except ByokError as exc:
            vendor.audit.record("tenant:migrate", tenant=tenant, outcome=type(exc).__name__)
            raise
    complete = not keys_to_migrate(vendor.store, tenant, to_version)
    report = MigrationReport(
        tenant=tenant, to_version=to_version, key_arn=target.config.key_arn, total=total,
        already_done=done, rewrapped=dict(job.methods), lost_races=job.lost_races,
        complete=complete, old_key_arns=tuple(sorted(job.old_arns - {target.config.key_arn})),
        kms_calls=_kms_delta(calls_before, vendor.factory.counts()),
        seconds=time.monotonic() - started,
    )  # fmt: skip
    if complete:
        routing.forget(tenant)
    vendor.audit.record(
        "tenant:migrate", tenant=tenant, outcome="ok" if complete else "incomplete",
        detail={"to_version": to_version, "key_arn": report.key_arn, "total": total,
                "rewrapped": sum(job.methods.values()), "old_key_arns": list(report.old_key_arns)},
    )  # fmt: skip
    return report


def _settle(vendor: Vendor, target: StoredKeyConfig, settle_s: float) -> None:
    """Sleep until ``settle_s`` after the target's activation (stored ``updated_at``)."""
    since = (vendor.store.clock() - target.updated_at).total_seconds()
    if since < settle_s:
        time.sleep(settle_s - max(since, 0.0))


def _prepare(vendor: Vendor, tenant: str, to_version: int) -> StoredKeyConfig:
    """Check the tenant and the target version; activate the version if it is VERIFIED."""
    state = vendor.tenants.get(tenant).state
    if state not in (TenantState.ACTIVE, TenantState.KEY_UNAVAILABLE):
        raise StateError(
            f"the tenant is {state}; only a tenant in service is migrated", tenant=tenant,
            operation="tenant:migrate", fix="Activate its first configuration instead.",
        )  # fmt: skip
    target = vendor.tenants.config(tenant, to_version)
    if target.state == KeyConfigState.VERIFIED:
        vendor.activate(tenant, to_version)
        return vendor.tenants.config(tenant, to_version)
    if target.state != KeyConfigState.ACTIVE:
        raise StateError(
            f"key configuration version {to_version} is {target.state}, not VERIFIED",
            tenant=tenant, operation="tenant:migrate",
            fix=f"Run `byok tenant verify {tenant} --version {to_version}` and fix what it "
            "reports first.",
        )  # fmt: skip
    return target


class _Rewrapper:
    """Re-wraps one TK row at a time under the target configuration."""

    def __init__(self, vendor: Vendor, routing: KeyRouting, target: StoredKeyConfig) -> None:
        self.vendor, self.routing, self.target = vendor, routing, target
        self.destination: KmsKeyWrapper = vendor.access.wrapper_for(target.config)
        self.methods: dict[str, int] = {}
        self.old_arns: set[str] = set()
        self.lost_races = 0
        self._reencrypt_works: bool | None = None  # learnt from the first TK

    def run(
        self, keys: Sequence[StoredTenantKey], progress: Progress, renew: Callable[[], None]
    ) -> None:
        """Migrate ``keys`` in order, reporting and renewing the lease after each."""
        for key in keys:
            self.migrate(key)
            progress.advance()
            renew()

    def migrate(self, key: StoredTenantKey) -> None:
        """Re-wrap (or relabel) ``key`` and swap its row; audit each KMS call."""
        arn, version = self.destination.key_arn, self.target.version
        self.old_arns.add(key.key_arn)
        if key.key_arn == arn:
            wrapped, method = key.wrapped, RELABEL
        else:
            wrapped, method = self._rewrap(key)
        stored, seal = self.vendor.tenant_keys.seal(key.tenant, key.tk_id, wrapped)
        if rewrap_in_place(
            self.vendor.store,
            key,
            wrapped=stored,
            key_arn=arn,
            key_config_version=version,
            seal=seal,
        ):
            self.methods[method] = self.methods.get(method, 0) + 1
        else:
            self.lost_races += 1

    def _rewrap(self, key: StoredTenantKey) -> tuple[bytes, str]:
        source = self.routing.wrapper_for_key(key)
        context = key.context  # exactly what it was wrapped under (scope, period too)
        if source.principal == self.destination.principal and self._reencrypt_works is not False:
            try:
                result = source.rewrap(key.wrapped, context, self.destination)
            except KeyAccessDenied:
                if self._reencrypt_works:
                    raise  # it worked for earlier TKs: this is a real refusal
                self._reencrypt_works = False  # kms:ReEncrypt* not granted: use the fallback
            else:
                self._reencrypt_works = True
                self._audit(REENCRYPT, key, result.request_id, source.key_arn)
                return result.wrapped, REENCRYPT
        recovered = source.unwrap(key.wrapped, context)
        self._audit("kms:Decrypt", key, recovered.request_id, source.key_arn)
        # The plaintext TK exists only in these two local references, never beyond this call.
        wrapped = self.destination.encrypt(recovered.plaintext, context)
        self._audit("kms:Encrypt", key, wrapped.request_id, source.key_arn)
        return wrapped.wrapped, DECRYPT_ENCRYPT

    def _audit(
        self, operation: str, key: StoredTenantKey, request_id: str | None, old: str
    ) -> None:
        self.vendor.audit.record(
            operation, tenant=key.tenant, tk_id=key.tk_id, kms_request_id=request_id,
            detail={"purpose": "key migration", "from_key_arn": old,
                    "to_key_arn": self.destination.key_arn, "to_version": self.target.version,
                    "encryption_context": key.context},
        )  # fmt: skip


@contextmanager
def _lease(
    vendor: Vendor, tenant: str, holder: str | None, ttl_s: float
) -> Iterator[Callable[[], None]]:
    """Hold the tenant's migration lease; yields a function that renews it when due."""
    leases = LeaseRepository(vendor.store)
    name = "migrate:" + hashlib.sha256(tenant.encode()).hexdigest()[:32]
    who = holder or f"{socket.gethostname()}:{os.getpid()}:{id(leases):x}"
    ttl = timedelta(seconds=ttl_s)
    if not leases.try_acquire(name, who, ttl):
        raise Conflict(
            f"another migration of this tenant is running ({leases.holder(name)})",
            tenant=tenant, operation="tenant:migrate",
            fix=f"Wait for it, or for its lease to expire ({ttl_s:g} s after a crash).",
        )  # fmt: skip
    renewed = [time.monotonic()]

    def renew() -> None:
        if time.monotonic() - renewed[0] > ttl_s / 3:
            if not leases.try_acquire(name, who, ttl):
                raise Conflict("the migration lease was lost", tenant=tenant)
            renewed[0] = time.monotonic()

    try:
        yield renew
    finally:
        leases.release(name, who)


@contextmanager
def _reporting(progress: Progress, total: int, done: int) -> Iterator[None]:
    progress.start("re-wrapping tenant keys", total, done)
    try:
        yield
    finally:
        progress.stop()


def _kms_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    delta = {op: n - before.get(op, 0) for op, n in after.items() if op.startswith("kms:")}
    return {op: n for op, n in sorted(delta.items()) if n}


# -- rotation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationReport:
    """What :func:`rotate_tenant_key` did: the new TK and the one it replaced."""

    tenant: str
    tk_id: str
    key_arn: str
    retired_tk_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form."""
        return asdict(self)


def rotate_tenant_key(vendor: Vendor, tenant: str) -> RotationReport:
    """Make a new TK for ``tenant`` now (one kms:GenerateDataKey); the previous one is retired
    (still used for reading). Other processes switch within the revocation bound.

    Returns:
        A :class:`RotationReport`.

    Raises:
        StateError: the tenant is not serving. NotFound: no such tenant.
        CustomerAccessError, TransientKmsError: the customer's key refused / KMS trouble.
    """
    wrapper = vendor.active_wrapper(tenant)
    previous = vendor.tenant_keys.current(tenant)
    record = vendor.envelope.rotate(tenant, wrapper)
    if previous is not None and previous.tk_id != record.tk_id:
        vendor.tenant_keys.retire(tenant, previous.tk_id)
    retired = previous.tk_id if previous is not None else None
    vendor.audit.record(
        "tenant:rotate-tk", tenant=tenant, tk_id=record.tk_id,
        detail={"key_arn": record.key_arn, "retired_tk_id": retired},
    )  # fmt: skip
    return RotationReport(tenant, record.tk_id, record.key_arn, retired)


def _unsealed(vendor: Vendor, keys: Sequence[StoredTenantKey]) -> list[StoredTenantKey]:
    """The rows with their KMS ciphertext unsealed (composite wrap)."""
    return [vendor.tenant_keys.unsealed(key) for key in keys]


def old_keys_in_use(vendor: Vendor, tenant: str, key_arn: str) -> int:
    """How many of the tenant's TKs ``key_arn`` still wraps (0: it may be disabled)."""
    return len(keys_by_arn(vendor.store, tenant, key_arn))
