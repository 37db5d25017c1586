"""Read-only summaries for dashboards (the web console): usage and the latest audit events.

Each function is one short read; none takes a write transaction or a lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from byok.store.audit import ChainedEvent, chained_event
from byok.store.database import Store
from byok.store.schema import AuditEventRow, DocumentRow, DocumentState

__all__ = ["Usage", "document_usage", "latest_events"]

MAX_EVENTS = 500


@dataclass(frozen=True)
class Usage:
    """A tenant's visible documents: how many, and their stored (encrypted) bytes."""

    documents: int
    stored_bytes: int


def document_usage(store: Store, tenant: str) -> Usage:
    """Count the tenant's live documents and add up their stored sizes."""
    query = select(func.count(DocumentRow.id), func.coalesce(func.sum(DocumentRow.size), 0)).where(
        DocumentRow.tenant_id == tenant, DocumentRow.state == DocumentState.LIVE
    )
    with store.read() as session:
        count, total = session.execute(query).one()
    return Usage(int(count or 0), int(total or 0))


def latest_events(
    store: Store,
    *,
    tenant: str | None = None,
    key_use: bool = False,
    refused_only: bool = False,
    limit: int = 50,
) -> Sequence[ChainedEvent]:
    """The newest audit events first (one tenant's when ``tenant`` is given).

    Args:
        store: the metadata store.
        tenant: only this tenant's events.
        key_use: only KMS calls (``kms:...``) and refused operations of any kind.
        refused_only: only events whose outcome is not ``ok``.
        limit: at most this many (capped at :data:`MAX_EVENTS`).
    """
    query = select(AuditEventRow)
    if tenant is not None:
        query = query.where(AuditEventRow.tenant_id == tenant)
    if key_use:
        kms = AuditEventRow.operation.startswith("kms:", autoescape=True)
        query = query.where(or_(kms, AuditEventRow.outcome != "ok"))
    if refused_only:
        query = query.where(AuditEventRow.outcome != "ok")
    query = query.order_by(AuditEventRow.seq.desc()).limit(max(1, min(limit, MAX_EVENTS)))
    with store.read() as session:
        return [chained_event(row) for row in session.scalars(query)]
