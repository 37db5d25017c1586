"""The audit table and its serialised append (the chain rules are ``byok.core.audit_chain``).

Every append runs in a write transaction (its own batch of the group commit, or the
caller's transaction with :func:`append_in`) that first locks the single
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
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from byok.core.audit_chain import AuditEvent, chain_hash
from byok.errors import StorageError
from byok.store.schema import AuditChainHead, AuditEventRow

if TYPE_CHECKING:
    from byok.store.database import Store

__all__ = ["AuditLog", "ChainAppender", "ChainedEvent", "Sealer", "chained_event"]

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

        The append shares one durable commit with the concurrent writes of other requests
        (``store.batched``, :mod:`byok.store.group_commit`); it returns after that commit.

        Args:
            event: the event; its ``seq`` is ignored and replaced by the next number.
            seal: computes the hash (default :func:`byok.core.audit_chain.chain_hash`).

        Returns:
            The stored event with its sequence number and hashes.

        Raises:
            StorageError: the append failed (nothing was appended).
        """
        return self.store.batched.run(
            lambda batch: batch.audit.append(event, seal=seal), savepoint=False
        )

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


class ChainAppender:
    """Appends events to the chain inside one write transaction, inserted all at once.

    The head row is read and locked (``SELECT ... FOR UPDATE``; SQLite's ``BEGIN
    IMMEDIATE`` already serialises writers) at the first append; the events are chained in
    memory and written by :meth:`flush` with one multi-row insert and one head update, just
    before the transaction commits. :meth:`mark` and :meth:`undo` drop the events of a part
    of the transaction that was rolled back (a group-commit item's savepoint).

    Args:
        session: the write transaction's session.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._head: tuple[int, str] | None = None
        self._locked_seq = 0
        self._rows: list[dict[str, Any]] = []

    def append(self, event: AuditEvent, *, seal: Sealer = chain_hash) -> ChainedEvent:
        """Chain ``event`` after the last one (its ``seq`` is assigned here).

        Returns:
            The event with its sequence number and hashes (stored when the transaction
            that flushes it commits).

        Raises:
            StorageError: the chain head is missing.
        """
        if self._head is None:
            self._head = self._lock_head()
            self._locked_seq = self._head[0]
        seq, prev = self._head
        linked = dataclasses.replace(event, seq=seq + 1)
        digest = seal(prev, linked)
        self._rows.append(_values(linked, prev, digest))
        self._head = (linked.seq, digest)
        return ChainedEvent(linked, prev, digest)

    def mark(self) -> tuple[tuple[int, str] | None, int]:
        """Where the chain is now (for :meth:`undo`)."""
        return self._head, len(self._rows)

    def undo(self, mark: tuple[tuple[int, str] | None, int]) -> None:
        """Forget the events appended since ``mark``."""
        self._head, kept = mark
        del self._rows[kept:]

    def flush(self) -> None:
        """Insert the pending events and move the head (in the session's transaction)."""
        if not self._rows or self._head is None:
            return
        self._session.execute(_INSERT_EVENTS, self._rows)
        self._session.execute(_MOVE_HEAD, {"seq": self._head[0], "hash": self._head[1]})
        self._rows = []

    def _lock_head(self) -> tuple[int, str]:
        head = self._session.execute(_LOCK_HEAD).one_or_none()
        if head is None:
            raise StorageError("the audit chain head is missing; the schema is damaged")
        return int(head[0]), str(head[1])


# Built once (Core, not ORM): the append runs for every document read and write.
_LOCK_HEAD = (
    select(AuditChainHead.last_seq, AuditChainHead.last_hash)
    .where(AuditChainHead.id == _HEAD_ID)
    .with_for_update()
)
_HEAD_TABLE = cast(Table, AuditChainHead.__table__)
_MOVE_HEAD = (
    update(_HEAD_TABLE)
    .where(_HEAD_TABLE.c.id == _HEAD_ID)
    .values(last_seq=bindparam("seq"), last_hash=bindparam("hash"))
)
_INSERT_EVENTS = insert(cast(Table, AuditEventRow.__table__))


def _values(event: AuditEvent, prev_hash: str, digest: str) -> dict[str, Any]:
    return {
        "seq": event.seq, "time": event.time, "actor": event.actor, "tenant_id": event.tenant,
        "operation": event.operation, "document": event.document, "tk_id": event.tk_id,
        "kms_request_id": event.kms_request_id, "outcome": event.outcome, "bytes": event.bytes,
        "detail": dict(event.detail), "prev_hash": prev_hash, "hash": digest,
    }  # fmt: skip


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
