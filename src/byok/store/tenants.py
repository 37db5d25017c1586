"""Tenants and their versioned key configurations, with the lifecycle rules in one place.

Tenant lifecycle (DESIGN.md, "Tenant lifecycle")::

    PENDING ──► VERIFIED ──► ACTIVE ◄──► KEY_UNAVAILABLE
       │  ▲         │          │               │
       │  └─────────┘          ▼               ▼
       └──────────────────► OFFBOARDED ◄───────┘   (terminal; reachable from every state)

A key configuration (one per submission, numbered 1, 2, ... per tenant)::

    PENDING ──► VERIFIED ──► ACTIVE ──► RETIRED
       │  ▲          │
       ▼  │          ▼
      FAILED ─────► RETIRED

:data:`TENANT_TRANSITIONS` and :data:`CONFIG_TRANSITIONS` are the only statement of what is
allowed; every state change goes through :func:`check_tenant_transition` /
:func:`check_config_transition` under a row lock, so two processes cannot both move a tenant
out of one state. Moving to the state a tenant is already in is a no-op, not an error (the
key monitor may report the same outage twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from byok.core.tenant_config import TenantKeyConfig, validate_external_id, validate_tenant_id
from byok.errors import Conflict, InvalidInput, NotFound, StateError
from byok.store.bindings import claim_bindings
from byok.store.database import Store
from byok.store.schema import KeyConfigRow, KeyConfigState, TenantRow, TenantState
from byok.store.signals import SignalKind

__all__ = [
    "CONFIG_TRANSITIONS",
    "TENANT_TRANSITIONS",
    "StoredKeyConfig",
    "Tenant",
    "TenantRepository",
    "check_config_transition",
    "check_tenant_transition",
]

_T, _C = TenantState, KeyConfigState
TENANT_TRANSITIONS: Mapping[TenantState, frozenset[TenantState]] = {
    _T.PENDING: frozenset({_T.VERIFIED, _T.OFFBOARDED}),
    _T.VERIFIED: frozenset({_T.ACTIVE, _T.PENDING, _T.OFFBOARDED}),
    _T.ACTIVE: frozenset({_T.KEY_UNAVAILABLE, _T.OFFBOARDED}),
    _T.KEY_UNAVAILABLE: frozenset({_T.ACTIVE, _T.OFFBOARDED}),
    _T.OFFBOARDED: frozenset(),
}
CONFIG_TRANSITIONS: Mapping[KeyConfigState, frozenset[KeyConfigState]] = {
    _C.PENDING: frozenset({_C.VERIFIED, _C.FAILED, _C.RETIRED}),
    _C.FAILED: frozenset({_C.VERIFIED, _C.RETIRED}),
    _C.VERIFIED: frozenset({_C.ACTIVE, _C.FAILED, _C.RETIRED}),
    _C.ACTIVE: frozenset({_C.RETIRED}),
    _C.RETIRED: frozenset(),
}


def check_tenant_transition(current: TenantState, target: TenantState, tenant: str) -> None:
    """Allow ``current`` → ``target`` (or staying put).

    Raises:
        StateError: naming both states when :data:`TENANT_TRANSITIONS` forbids it.
    """
    if current != target and target not in TENANT_TRANSITIONS[current]:
        raise StateError(
            f"a tenant cannot go from {current} to {target}",
            tenant=tenant,
            operation="tenant:transition",
        )


def check_config_transition(current: KeyConfigState, target: KeyConfigState, tenant: str) -> None:
    """Allow ``current`` → ``target`` (or staying put).

    Raises:
        StateError: when :data:`CONFIG_TRANSITIONS` forbids it.
    """
    if current != target and target not in CONFIG_TRANSITIONS[current]:
        raise StateError(
            f"a key configuration cannot go from {current} to {target}",
            tenant=tenant,
            operation="key_config:transition",
        )


@dataclass(frozen=True)
class Tenant:
    """A tenant as stored. ``external_id`` is shown to the customer for its trust policy."""

    id: str
    name: str
    state: TenantState
    state_detail: str | None
    external_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: TenantRow) -> Tenant:
        """Build from a ``tenants`` row."""
        return cls(
            row.id, row.name, TenantState(row.state), row.state_detail, row.external_id,
            row.created_at, row.updated_at,
        )  # fmt: skip


@dataclass(frozen=True)
class StoredKeyConfig:
    """One stored key configuration version with its state and verification report, who
    submitted it and who approved it (None: nobody yet)."""

    config: TenantKeyConfig
    state: KeyConfigState
    verification: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime
    submitted_by: str | None = None
    approved_by: str | None = None

    @property
    def version(self) -> int:
        """The configuration version (1, 2, ... per tenant)."""
        return self.config.version

    @classmethod
    def of(cls, row: KeyConfigRow) -> StoredKeyConfig:
        """Build from a ``key_configs`` row."""
        config = TenantKeyConfig(
            tenant=row.tenant_id, mode=row.mode, key_arn=row.key_arn,  # type: ignore[arg-type]
            client_role_arn=row.client_role_arn, external_id=row.external_id, version=row.version,
        )  # fmt: skip
        state = KeyConfigState(row.state)
        return cls(
            config, state, row.verification, row.created_at, row.updated_at,
            row.submitted_by, row.approved_by,
        )  # fmt: skip


class TenantRepository:
    """Tenants and key configurations in a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, tenant: str, *, name: str, external_id: str) -> Tenant:
        """Create a PENDING tenant with its (vendor-generated, unique) External ID.

        Returns:
            The new tenant.

        Raises:
            InvalidInput: a malformed id, name or External ID.
            Conflict: the tenant id or the External ID is already taken (neither is named).
        """
        validate_tenant_id(tenant)
        validate_external_id(external_id)
        if not 1 <= len(name) <= 256:
            raise InvalidInput("name", "must be 1 to 256 characters")
        now = self.store.clock()
        row = TenantRow(
            id=tenant, name=name, state=TenantState.PENDING, state_detail=None,
            external_id=external_id, created_at=now, updated_at=now,
        )  # fmt: skip
        try:
            with self.store.write() as session:
                session.add(row)
        except Conflict:
            raise Conflict(
                "a tenant with this id or External ID exists",
                tenant=tenant,
                operation="tenant:create",
                fix="Choose another tenant id; generate a fresh External ID.",
            ) from None
        return Tenant.of(row)

    def get(self, tenant: str) -> Tenant:
        """Return the tenant.

        Raises:
            NotFound: no such tenant.
        """
        with self.store.read() as session:
            return Tenant.of(_tenant_row(session, tenant))

    def owner_of_external_id(self, external_id: str) -> str | None:
        """Return the id of the tenant holding ``external_id``, or None."""
        with self.store.read() as session:
            query = select(TenantRow.id).where(TenantRow.external_id == external_id)
            return session.scalars(query).one_or_none()

    def list(self, *, state: TenantState | None = None) -> Sequence[Tenant]:
        """Return all tenants (optionally only those in ``state``), ordered by id."""
        query = select(TenantRow).order_by(TenantRow.id)
        if state is not None:
            query = query.where(TenantRow.state == state)
        with self.store.read() as session:
            return [Tenant.of(row) for row in session.scalars(query)]

    def transition(
        self,
        tenant: str,
        target: TenantState,
        *,
        detail: str | None = None,
        expected: TenantState | None = None,
    ) -> Tenant:
        """Move the tenant to ``target`` (allowed moves: :data:`TENANT_TRANSITIONS`).

        Args:
            tenant: the tenant id.
            target: the new state.
            detail: why (shown to operators, e.g. the revocation reason); replaces the old.
            expected: refuse unless the tenant is currently in this state.

        Returns:
            The tenant after the change.

        Raises:
            NotFound: no such tenant.
            StateError: the move is not allowed, or the tenant is not in ``expected``.
        """
        with self.store.write() as session:
            row = _tenant_row(session, tenant, lock=True)
            current = TenantState(row.state)
            if expected is not None and current != expected:
                raise StateError(
                    f"the tenant is {current}, not {expected}", tenant=tenant,
                    operation="tenant:transition",
                )  # fmt: skip
            check_tenant_transition(current, target, tenant)
            row.state, row.state_detail = target, detail
            row.updated_at = self.store.clock()
            # Every node drops what it caches about the tenant (keys too, when it lost them):
            # the change and its signal commit together (byok.store.signals).
            self.store.signals.publish(
                session, SignalKind.TENANT_STATE, tenant=tenant, subject=str(target)
            )
            return Tenant.of(row)

    def submit_config(
        self, config: TenantKeyConfig, *, submitted_by: str | None = None
    ) -> StoredKeyConfig:
        """Store ``config`` as the tenant's next version (its ``version`` field is replaced).

        Returns:
            The stored, PENDING configuration.

        Raises:
            NotFound: no such tenant.
            StateError: the tenant is offboarded.
            InvalidInput: an Option B External ID that is not the tenant's own.
        """
        with self.store.write() as session:
            tenant = _tenant_row(session, config.tenant, lock=True)
            if tenant.state == TenantState.OFFBOARDED:
                raise StateError("the tenant is offboarded", tenant=config.tenant)
            if config.external_id is not None and config.external_id != tenant.external_id:
                raise InvalidInput(
                    "external_id", "is not the External ID byok issued to this tenant",
                    tenant=config.tenant, fix="Use the External ID from `byok tenant show`.",
                )  # fmt: skip
            last = session.scalar(
                select(func.max(KeyConfigRow.version)).where(KeyConfigRow.tenant_id == tenant.id)
            )
            now = self.store.clock()
            row = KeyConfigRow(
                tenant_id=tenant.id, version=(last or 0) + 1, mode=config.mode,
                key_arn=config.key_arn, region=config.region,
                client_role_arn=config.client_role_arn, external_id=config.external_id,
                state=KeyConfigState.PENDING, verification=None, created_at=now, updated_at=now,
                submitted_by=submitted_by,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return StoredKeyConfig.of(row)

    def config(self, tenant: str, version: int) -> StoredKeyConfig:
        """Return one configuration version.

        Raises:
            NotFound: no such tenant or version.
        """
        with self.store.read() as session:
            return StoredKeyConfig.of(_config_row(session, tenant, version))

    def configs(self, tenant: str) -> Sequence[StoredKeyConfig]:
        """Return every configuration version of the tenant, oldest first."""
        query = (
            select(KeyConfigRow)
            .where(KeyConfigRow.tenant_id == tenant)
            .order_by(KeyConfigRow.version)
        )
        with self.store.read() as session:
            return [StoredKeyConfig.of(row) for row in session.scalars(query)]

    def active_config(self, tenant: str) -> StoredKeyConfig | None:
        """Return the tenant's ACTIVE configuration, or None."""
        query = select(KeyConfigRow).where(
            KeyConfigRow.tenant_id == tenant, KeyConfigRow.state == KeyConfigState.ACTIVE
        )
        with self.store.read() as session:
            row = session.scalars(query).one_or_none()
            return None if row is None else StoredKeyConfig.of(row)

    def record_verification(
        self, tenant: str, version: int, report: Mapping[str, Any], *, passed: bool
    ) -> StoredKeyConfig:
        """Store a verification ``report`` (JSON-safe) and mark the version VERIFIED or FAILED.

        A passed version claims its key and client role for the tenant in the same
        transaction (``byok.store.bindings``): one tenant per resource, enforced by the
        database.

        Raises:
            NotFound: no such tenant or version.
            StateError: the version is ACTIVE or RETIRED.
            Conflict: passed, but a resource is bound to another tenant (nothing changed).
        """
        target = KeyConfigState.VERIFIED if passed else KeyConfigState.FAILED
        with self.store.write() as session:
            row = _config_row(session, tenant, version, lock=True)
            check_config_transition(KeyConfigState(row.state), target, tenant)
            now = self.store.clock()
            if passed:
                claim_bindings(session, StoredKeyConfig.of(row).config, now)
            row.state, row.verification = target, dict(report)
            row.updated_at = now
            return StoredKeyConfig.of(row)

    def approve_config(self, tenant: str, version: int, *, approved_by: str) -> StoredKeyConfig:
        """Record ``approved_by`` as the second principal approving a version.

        Raises:
            NotFound: no such tenant or version.
            StateError: the version is FAILED, ACTIVE or RETIRED (approve what will be used).
        """
        with self.store.write() as session:
            row = _config_row(session, tenant, version, lock=True)
            if row.state not in (KeyConfigState.PENDING, KeyConfigState.VERIFIED):
                raise StateError(
                    f"key configuration version {version} is {row.state}", tenant=tenant,
                    operation="key_config:approve",
                    fix="Approve a PENDING or VERIFIED version (`byok tenant show`).",
                )  # fmt: skip
            now = self.store.clock()
            row.approved_by, row.approved_at, row.updated_at = approved_by, now, now
            return StoredKeyConfig.of(row)

    def activate_config(self, tenant: str, version: int) -> StoredKeyConfig:
        """Make a VERIFIED version the ACTIVE one, retiring the previously active version.

        Raises:
            NotFound: no such tenant or version.
            StateError: the version is not VERIFIED (only a verified configuration is used).
        """
        with self.store.write() as session:
            _tenant_row(session, tenant, lock=True)  # serialises activations per tenant
            row = _config_row(session, tenant, version, lock=True)
            check_config_transition(KeyConfigState(row.state), KeyConfigState.ACTIVE, tenant)
            if row.state != KeyConfigState.ACTIVE:
                now = self.store.clock()
                for old in session.scalars(
                    select(KeyConfigRow).where(
                        KeyConfigRow.tenant_id == tenant,
                        KeyConfigRow.state == KeyConfigState.ACTIVE,
                    )
                ):
                    old.state, old.updated_at = KeyConfigState.RETIRED, now
                session.flush()
                row.state, row.updated_at = KeyConfigState.ACTIVE, now
            return StoredKeyConfig.of(row)


def _tenant_row(session: Session, tenant: str, *, lock: bool = False) -> TenantRow:
    row = session.get(TenantRow, tenant, with_for_update=lock)
    if row is None:
        raise NotFound("no such tenant", tenant=tenant)
    return row


def _config_row(session: Session, tenant: str, version: int, *, lock: bool = False) -> KeyConfigRow:
    row = session.get(KeyConfigRow, (tenant, version), with_for_update=lock)
    if row is None:
        raise NotFound(f"no key configuration version {version}", tenant=tenant)
    return row
