"""The tamper-evident audit chain: canonical event encoding and SHA-256 hash chaining.

Each audit event is encoded canonically (sorted-key compact JSON, UTF-8) and chained::

    hash[n] = SHA-256( "byok-audit-v1" || hash[n-1] || canonical(event[n]) )

with ``hash[-1]`` = 32 zero bytes. Editing, deleting, inserting or reordering any event
changes every later hash, so :func:`verify_chain` finds the first event where the stored
chain and the recomputed one disagree. Events carry identifiers only (tenant, document
name, TK id, KMS request id), never data or key material.

The chain proves integrity relative to its latest hash: an attacker who can rewrite the
whole table can rewrite the whole chain. Anchoring the head hash elsewhere (printing it,
exporting it to the customer) is what makes truncation of the tail detectable; see
docs/SECURITY.md#audit-log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "ChainVerification",
    "canonical_event",
    "chain_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
_DOMAIN = b"byok-audit-v1"

# Fields every event has, in the order they are documented (docs/SECURITY.md#audit-log).
_FIELDS = (
    "seq",
    "time",
    "actor",
    "tenant",
    "operation",
    "document",
    "tk_id",
    "kms_request_id",
    "outcome",
    "bytes",
    "detail",
)


@dataclass(frozen=True)
class AuditEvent:
    """One audit record. ``detail`` holds small extra identifiers (e.g. the encryption context).

    Attributes:
        seq: position in the chain, from 1.
        time: when it happened (timezone-aware, UTC).
        actor: who acted (API token id, ``service``, ``cli:<user>``).
        tenant: the tenant concerned, or None for vendor-wide events.
        operation: ``kms:GenerateDataKey``, ``document:put``, ``tenant:verify`` ...
        document: the document name, if any.
        tk_id: the tenant key id, if any.
        kms_request_id: the KMS request id, to line up with the customer's CloudTrail.
        outcome: ``ok`` or the error class name.
        bytes: plaintext size for document operations, else 0.
        detail: extra JSON-safe identifiers (never secrets).
    """

    seq: int
    time: datetime
    actor: str
    tenant: str | None
    operation: str
    outcome: str
    document: str | None = None
    tk_id: str | None = None
    kms_request_id: str | None = None
    bytes: int = 0
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-safe dict (time as ISO 8601 UTC with microseconds)."""
        values: dict[str, Any] = {
            "seq": self.seq,
            "time": _iso(self.time),
            "actor": self.actor,
            "tenant": self.tenant,
            "operation": self.operation,
            "document": self.document,
            "tk_id": self.tk_id,
            "kms_request_id": self.kms_request_id,
            "outcome": self.outcome,
            "bytes": self.bytes,
            "detail": dict(self.detail),
        }
        return {name: values[name] for name in _FIELDS}


def canonical_event(event: AuditEvent) -> bytes:
    """Return the canonical encoding of ``event`` that the chain hashes.

    Raises:
        TypeError: if ``detail`` holds a value JSON cannot encode.
    """
    return json.dumps(
        event.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def chain_hash(previous_hash: str, event: AuditEvent) -> str:
    """Return the hex hash of ``event`` chained after ``previous_hash``."""
    digest = hashlib.sha256()
    digest.update(_DOMAIN)
    digest.update(bytes.fromhex(previous_hash))
    digest.update(canonical_event(event))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainVerification:
    """The result of :func:`verify_chain`.

    Attributes:
        ok: True when every event's stored hash matches and sequence numbers are contiguous.
        events: how many events were checked.
        head_hash: the last verified hash (anchor it elsewhere to detect truncation).
        first_bad_seq: the sequence number of the first event that fails, if any.
        reason: why it failed, in words.
    """

    ok: bool
    events: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_chain(
    chained: Iterable[tuple[AuditEvent, str]], *, start_hash: str = GENESIS_HASH
) -> ChainVerification:
    """Recompute the chain over ``(event, stored_hash)`` pairs in order and compare.

    Returns a :class:`ChainVerification`; never raises for a broken chain.
    """
    previous = start_hash
    expected_seq: int | None = None
    count = 0
    for event, stored in chained:
        if expected_seq is not None and event.seq != expected_seq:
            reason = f"sequence gap or reorder: expected {expected_seq}, found {event.seq}"
            return ChainVerification(False, count, previous, event.seq, reason)
        recomputed = chain_hash(previous, event)
        if not hmac.compare_digest(recomputed, stored):
            reason = "stored hash does not match the event (edited, inserted or reordered)"
            return ChainVerification(False, count, previous, event.seq, reason)
        previous = stored
        expected_seq = event.seq + 1
        count += 1
    return ChainVerification(True, count, previous)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
