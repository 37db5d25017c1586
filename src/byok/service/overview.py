"""What a dashboard shows about a tenant or the whole service (the web console's facts).

Read-only: nothing here calls AWS or writes. A tenant's overview gathers its state (with the
fix for ``KEY_UNAVAILABLE``), the revocation bound, the key configuration in use, its
documents, a key migration's progress, the vendor's latest uses of its key (including the
refused ones, which the customer's own CloudTrail does not show for cross-account calls) and
the audit chain's head. The operator's overview gathers tenants by state, the key monitor's
last sweep and the latest refusals across tenants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import byok.errors
from byok.service.monitor import KeyMonitor, SweepResult
from byok.service.onboarding import needs_approval
from byok.service.vendor import Vendor
from byok.store.audit import ChainedEvent
from byok.store.key_policies import TenantPolicy
from byok.store.lifecycle import migration_counts
from byok.store.overview import Usage, document_usage, latest_events
from byok.store.schema import KeyConfigState, TenantState
from byok.store.tenants import StoredKeyConfig, Tenant

__all__ = [
    "Migration",
    "OperatorOverview",
    "TenantOverview",
    "operator_overview",
    "tenant_overview",
    "unavailable_fix",
]


@dataclass(frozen=True)
class Migration:
    """A key migration in progress: TKs under the active configuration out of all."""

    to_version: int
    done: int
    total: int

    @property
    def percent(self) -> int:
        """Whole percent done (100 when there is nothing to move)."""
        return 100 if self.total == 0 else self.done * 100 // self.total


@dataclass(frozen=True)
class TenantOverview:
    """One tenant's dashboard facts (see the module docstring)."""

    tenant: Tenant
    fix: str | None
    revocation_bound_s: float
    active: StoredKeyConfig | None
    newest: StoredKeyConfig | None
    usage: Usage
    migration: Migration | None
    key_use: Sequence[ChainedEvent]
    chain_seq: int
    chain_head: str
    tenant_head: str | None
    push_revocation: bool
    #: The tenant's scope rules, period unit and the uses its key policy refuses.
    policy: TenantPolicy | None = None


@dataclass(frozen=True)
class OperatorOverview:
    """The vendor operator's facts: tenants by state, the key monitor, latest refusals."""

    by_state: Mapping[str, Sequence[Tenant]]
    monitor_interval_s: float | None
    last_sweep: SweepResult | None
    refusals: Sequence[ChainedEvent]
    approvals: Sequence[StoredKeyConfig] = ()


def unavailable_fix(state_detail: str | None) -> str | None:
    """The fix for a ``KEY_UNAVAILABLE`` reason (``"KeyDisabled: ..."``), from the error class.

    Returns:
        The error class's fix in words, or None when the reason names no byok error.
    """
    if not state_detail:
        return None
    name = state_detail.partition(":")[0].strip()
    error = getattr(byok.errors, name, None)
    if isinstance(error, type) and issubclass(error, byok.errors.ByokError):
        return error.default_fix
    return None


def tenant_overview(vendor: Vendor, tenant: str, *, events: int = 50) -> TenantOverview:
    """Gather one tenant's dashboard facts.

    Returns:
        A :class:`TenantOverview`.

    Raises:
        NotFound: no such tenant.
        StorageError: the metadata database cannot be read.
    """
    row = vendor.tenants.get(tenant)
    configs = vendor.tenants.configs(tenant)
    active = vendor.tenants.active_config(tenant)
    fix = unavailable_fix(row.state_detail) if row.state == TenantState.KEY_UNAVAILABLE else None
    key_use = latest_events(vendor.store, tenant=tenant, key_use=True, limit=events)
    own = latest_events(vendor.store, tenant=tenant, limit=1)
    seq, head = vendor.audit.log.head()
    policy = vendor.policies.get(tenant)
    return TenantOverview(
        tenant=row, fix=fix, revocation_bound_s=vendor.settings.revocation_bound_s,
        active=active, newest=configs[-1] if configs else None,
        usage=document_usage(vendor.store, tenant), migration=_migration(vendor, active),
        key_use=key_use, chain_seq=seq, chain_head=head,
        tenant_head=own[0].hash if own else None,
        push_revocation=policy.event_secret_hash is not None, policy=policy,
    )  # fmt: skip


def _migration(vendor: Vendor, active: StoredKeyConfig | None) -> Migration | None:
    """The migration to the active configuration, while some TK is still under another."""
    if active is None:
        return None
    done, total = migration_counts(vendor.store, active.config.tenant, active.version)
    return Migration(active.version, done, total) if done < total else None


def operator_overview(
    vendor: Vendor, monitor: KeyMonitor | None, *, refusals: int = 50
) -> OperatorOverview:
    """Gather the vendor operator's facts.

    Returns:
        An :class:`OperatorOverview`; tenants are grouped by state in lifecycle order.
    """
    by_state: dict[str, list[Tenant]] = {state.value: [] for state in TenantState}
    tenants = vendor.tenants.list()
    for tenant in tenants:
        by_state[tenant.state.value].append(tenant)
    return OperatorOverview(
        by_state=by_state,
        monitor_interval_s=monitor.interval_s if monitor is not None else None,
        last_sweep=monitor.last if monitor is not None else None,
        refusals=latest_events(vendor.store, refused_only=True, limit=refusals),
        approvals=[c for t in tenants for c in awaiting_approval(vendor, t.id)],
    )


def awaiting_approval(vendor: Vendor, tenant: str) -> list[StoredKeyConfig]:
    """The tenant's verified configurations that move it to another AWS account (re-rooting)
    and still need a second principal's approval before they can be activated."""
    active = vendor.tenants.active_config(tenant)
    return [
        stored
        for stored in vendor.tenants.configs(tenant)
        if stored.state == KeyConfigState.VERIFIED
        and needs_approval(active, stored)
        and (stored.approved_by is None or stored.approved_by == stored.submitted_by)
    ]
