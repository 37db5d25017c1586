"""Tenant <-> key binding: each customer key and client role serves exactly one tenant.

A key configuration *claims* its key (and, for Option B, its client role) when it passes
verification, in the same transaction that records the VERIFIED state. The claim is a row of
``key_bindings`` whose primary key is the resource, so two tenants can never both hold one
resource, however their requests interleave: the database refuses the second.

Why at verification and not at submission: a claim at submission would let any tenant squat
any key ARN it has heard of (a PENDING configuration costs nothing). Passing verification
requires the key to work for the claiming tenant *and refuse a random other tenant*
(``key_refuses_other_tenants``), which only the key's owner can arrange.

A tenant keeps its claims (its old key stays its own after a migration, so it may return to
it); an OFFBOARDED tenant's claims lapse and the next tenant to verify the resource takes it
over. Errors never name the other tenant.

Resources are canonical, so spelling cannot dodge the rule: a key is its partition, account
and key id (the replicas of a multi-Region key share the key id across Regions); a role is
its partition, account and lower-case name (IAM role names are unique case-insensitively,
whatever the path).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from byok.core.tenant_config import TenantKeyConfig
from byok.errors import Conflict
from byok.store.database import Store
from byok.store.schema import KeyBindingRow, TenantRow, TenantState

__all__ = [
    "BOUND_FIX",
    "binding_resources",
    "bound_error",
    "claim_bindings",
    "held_elsewhere",
    "tenant_resources",
]

BOUND_FIX = (
    "Use a key (and client role) of your own: each key serves exactly one tenant, so a key "
    "another tenant uses cannot be yours to hand over. If it is yours and you are moving to a "
    "new tenant id, ask the vendor to offboard the old tenant first."
)


def binding_resources(config: TenantKeyConfig) -> list[tuple[str, str]]:
    """The canonical resources ``config`` binds, as ``(kind, resource)``.

    Returns:
        The key, and for Option B the client role.
    """
    key = config.key
    found = [("key", f"kms:{key.partition}:{key.account}:{key.key_id.lower()}")]
    role = config.client_role
    if role is not None:
        found.append(("client-role", f"iam:{role.partition}:{role.account}:{role.name.lower()}"))
    return found


def held_elsewhere(store: Store, config: TenantKeyConfig) -> list[str]:
    """The kinds (``key``, ``client-role``) of ``config``'s resources another tenant holds.

    Returns:
        Empty when every resource is free or already this tenant's.
    """
    with store.read() as session:
        return [
            kind
            for kind, resource in binding_resources(config)
            if _holder(session, resource) not in (None, config.tenant)
        ]


def claim_bindings(session: Session, config: TenantKeyConfig, now: datetime) -> None:
    """Claim ``config``'s resources for its tenant inside the caller's write transaction.

    Raises:
        Conflict: a resource is held by another tenant that is not offboarded (the other
            tenant is not named), or a concurrent claim won the race.
    """
    for kind, resource in binding_resources(config):
        row = session.get(KeyBindingRow, resource, with_for_update=True)
        if row is None:
            session.add(
                KeyBindingRow(resource=resource, kind=kind, tenant_id=config.tenant, created_at=now)
            )
            session.flush()  # a concurrent claim of the same resource fails here
        elif row.tenant_id != config.tenant:
            if _holder(session, resource) is not None:
                raise bound_error(kind, config.tenant)
            row.tenant_id, row.created_at = config.tenant, now


def bound_error(kind: str, tenant: str) -> Conflict:
    """The error for a resource bound to another tenant (which it never names).

    Returns:
        A :class:`Conflict` naming the kind of resource and the fix.
    """
    what = "key" if kind == "key" else "client role"
    return Conflict(
        f"this {what} is already bound to another tenant's key configuration",
        tenant=tenant,
        operation="key_config:bind",
        fix=BOUND_FIX,
    )


def _holder(session: Session, resource: str) -> str | None:
    """The tenant holding ``resource``, or None when free or its holder is offboarded."""
    query = (
        select(TenantRow.id, TenantRow.state)
        .join(KeyBindingRow, KeyBindingRow.tenant_id == TenantRow.id)
        .where(KeyBindingRow.resource == resource)
    )
    found = session.execute(query).one_or_none()
    if found is None or found.state == TenantState.OFFBOARDED:
        return None
    return str(found.id)


def tenant_resources(store: Store, tenant: str) -> Sequence[str]:
    """The resources ``tenant`` holds (for tests and operators)."""
    with store.read() as session:
        query = select(KeyBindingRow.resource).where(KeyBindingRow.tenant_id == tenant)
        return list(session.scalars(query))
