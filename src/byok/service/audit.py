"""The vendor's audit trail: what to record, verification and per-tenant export.

Every KMS call (from the envelope's key events and from verification) and every document
operation is appended to the hash-chained log (``byok.core.audit_chain``,
``byok.store.audit``). Records hold identifiers only: tenant, document name, TK id, KMS
request id, the encryption context's tenant and TK id, outcome and size; never data or keys.

The KMS request id and the encryption context are what the customer sees in its CloudTrail,
so each KMS event here lines up one to one with a CloudTrail event (docs/SECURITY.md#audit-log).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from byok.core.audit_chain import AuditEvent, ChainVerification, chain_hash, verify_chain
from byok.core.context import tenant_key_context
from byok.core.envelope import KeyEvent
from byok.store.audit import AuditLog, ChainedEvent

__all__ = ["AuditTrail", "ExportSummary", "acting_as"]

Clock = Callable[[], datetime]

# Who acts in the current request or task (e.g. ``token:<id>`` set by the API); falls back to
# the trail's own actor. A ContextVar, so concurrent requests never see each other's actor.
_ACTOR: ContextVar[str | None] = ContextVar("byok_audit_actor", default=None)


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Attribute every audit event recorded inside the block to ``actor``."""
    reset = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(reset)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ExportSummary:
    """What :meth:`AuditTrail.export_jsonl` wrote."""

    tenant: str
    events: int
    head_hash: str


class AuditTrail:
    """Records byok's actions in the hash-chained audit log.

    Args:
        log: the stored log.
        actor: who acts in this process (``service``, ``cli``, an API token id).
        clock: time source (UTC, timezone-aware).
    """

    def __init__(self, log: AuditLog, *, actor: str = "service", clock: Clock = _utc_now) -> None:
        self.log = log
        self.actor = actor
        self._clock = clock

    def record(
        self,
        operation: str,
        *,
        tenant: str | None,
        outcome: str = "ok",
        document: str | None = None,
        tk_id: str | None = None,
        kms_request_id: str | None = None,
        size: int = 0,
        detail: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> ChainedEvent:
        """Append one event.

        Returns:
            The stored event with its sequence number and hash.

        Raises:
            StorageError: it could not be appended (the caller's operation then fails too:
                an action byok cannot audit is an action byok does not take).
        """
        event = self.event(
            operation, tenant=tenant, outcome=outcome, document=document, tk_id=tk_id,
            kms_request_id=kms_request_id, size=size, detail=detail, actor=actor,
        )  # fmt: skip
        return self.log.append(event, seal=chain_hash)

    def event(
        self,
        operation: str,
        *,
        tenant: str | None,
        outcome: str = "ok",
        document: str | None = None,
        tk_id: str | None = None,
        kms_request_id: str | None = None,
        size: int = 0,
        detail: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> AuditEvent:
        """The event :meth:`record` would append, stamped now with the current actor (for a
        write that appends it in its own transaction: ``byok.store.audit.append_in``)."""
        return AuditEvent(
            seq=0, time=self._clock(), actor=actor or _ACTOR.get() or self.actor, tenant=tenant,
            operation=operation, outcome=outcome, document=document, tk_id=tk_id,
            kms_request_id=kms_request_id, bytes=size, detail=dict(detail or {}),
        )  # fmt: skip

    def key_event(self, event: KeyEvent) -> None:
        """Envelope audit hook: one record per KMS call and per cache purge."""
        detail: dict[str, Any] = {"key_arn": event.key_arn}
        if event.tk_id is not None:
            detail["encryption_context"] = dict(
                event.context or tenant_key_context(event.tenant, event.tk_id)
            )
        self.record(
            event.operation, tenant=event.tenant, outcome=event.outcome, tk_id=event.tk_id,
            kms_request_id=event.request_id, detail=detail,
        )  # fmt: skip

    def verify(self) -> ChainVerification:
        """Recompute the whole chain.

        Returns:
            A :class:`~byok.core.audit_chain.ChainVerification` (``ok`` False names the first
            bad event).
        """
        return verify_chain((item.event, item.hash) for item in self.log.events())

    def events(self, tenant: str | None = None) -> Iterator[ChainedEvent]:
        """Stored events in chain order, optionally only one tenant's."""
        return self.log.events(tenant=tenant)

    def export_jsonl(self, tenant: str, out: IO[str]) -> ExportSummary:
        """Write one tenant's events as JSON Lines, each with its ``prev_hash`` and ``hash``.

        A tenant's events are links of the vendor-wide chain; each line can be checked on its
        own: ``hash == chain_hash(prev_hash, event)`` (docs/SECURITY.md#audit-log).

        Returns:
            How many events were written and the last hash.
        """
        count, last = 0, ""
        for item in self.log.events(tenant=tenant):
            line = item.event.to_dict() | {"prev_hash": item.prev_hash, "hash": item.hash}
            out.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
            count, last = count + 1, item.hash
        return ExportSummary(tenant, count, last)
