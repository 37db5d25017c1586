"""The audit table and its serialised append (the chain rules are ``byok.core.audit_chain``).

Every append runs in one write transaction that first locks the single
``audit_chain_head`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises writers anyway), takes the next sequence number and the
previous hash from it, inserts the event with both hashes and moves the head. So the chain
has exactly one order, the commit order, however many processes append at once, and a
failed append leaves no gap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select

from byok.core.audit_chain import AuditEvent, chain_hash
from byok.errors import StorageError
from byok.store.database import Store
from byok.store.schema import AuditChainHead, AuditEventRow

__all__ = ["AuditLog", "ChainedEvent", "Sealer", "chained_event"]

#: Computes an event's hash from the previous hash and the event (with its ``seq`` set).
Sealer = Callable[[str, AuditEvent], str]
_HEAD_ID = 1


@dataclass(frozen=True)
class ChainedEvent:
    """A stored audit event and its place in the chain."""

    event: AuditEvent
    prev_hash: str
    hash: str


class AuditLog:
    """The append-only, hash-chained audit log in a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, event: AuditEvent, *, seal: Sealer = chain_hash) -> ChainedEvent:
        """Append ``event`` as the chain's next link (its ``seq`` is assigned here).

        Args:
            event: the event; its ``seq`` is ignored and replaced by the next number.
            seal: computes the hash (default :func:`byok.core.audit_chain.chain_hash`).

        Returns:
            The stored event with its sequence number and hashes.

        Raises:
            StorageError: the append failed (nothing was appended).
        """
        with self.store.write() as session:
            head = session.get(AuditChainHead, _HEAD_ID, with_for_update=True)
            if head is None:
                raise StorageError("the audit chain head is missing; the schema is damaged")
            linked = dataclasses.replace(event, seq=head.last_seq + 1)
            digest = seal(head.last_hash, linked)
            session.add(_row(linked, head.last_hash, digest))
            chained = ChainedEvent(linked, head.last_hash, digest)
            head.last_seq, head.last_hash = linked.seq, digest
        return chained

    def head(self) -> tuple[int, str]:
        """Return ``(last seq, last hash)``; ``(0, GENESIS_HASH)`` for an empty log.

        Raises:
            StorageError: the head row is missing.
        """
        with self.store.read() as session:
            head = session.get(AuditChainHead, _HEAD_ID)
            if head is None:
                raise StorageError("the audit chain head is missing; the schema is damaged")
            return head.last_seq, head.last_hash

    def events(
        self, *, tenant: str | None = None, after_seq: int = 0, batch: int = 1000
    ) -> Iterator[ChainedEvent]:
        """Yield stored events in chain order (only ``tenant``'s when given), in batches.

        Each batch is its own short read, so a long export never holds a transaction open.
        """
        last = after_seq
        while True:
            query = select(AuditEventRow).where(AuditEventRow.seq > last)
            if tenant is not None:
                query = query.where(AuditEventRow.tenant_id == tenant)
            query = query.order_by(AuditEventRow.seq).limit(batch)
            with self.store.read() as session:
                rows = [_chained(row) for row in session.scalars(query)]
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1].event.seq


def _row(event: AuditEvent, prev_hash: str, digest: str) -> AuditEventRow:
    return AuditEventRow(
        seq=event.seq, time=event.time, actor=event.actor, tenant_id=event.tenant,
        operation=event.operation, document=event.document, tk_id=event.tk_id,
        kms_request_id=event.kms_request_id, outcome=event.outcome, bytes=event.bytes,
        detail=dict(event.detail), prev_hash=prev_hash, hash=digest,
    )  # fmt: skip


def _chained(row: AuditEventRow) -> ChainedEvent:
    event = AuditEvent(
        seq=row.seq, time=row.time, actor=row.actor, tenant=row.tenant_id,
        operation=row.operation, outcome=row.outcome, document=row.document, tk_id=row.tk_id,
        kms_request_id=row.kms_request_id, bytes=row.bytes, detail=row.detail,
    )  # fmt: skip
    return ChainedEvent(event, row.prev_hash, row.hash)


def chained_event(row: AuditEventRow) -> ChainedEvent:
    """The :class:`ChainedEvent` of a stored row (for other read-only queries of the table)."""
    return _chained(row)
