"""Audit heads anchored in the customer's CloudTrail, and the customer's check of an export.

The vendor's audit log is one hash chain over every tenant (``byok.core.audit_chain``). The
chain alone proves integrity only relative to its latest hash: whoever can rewrite the whole
table can recompute the whole chain. So for each tenant byok folds the hashes of that
tenant's events, in chain order, into a **tenant head**::

    head[0] = 32 zero bytes
    head[n] = SHA-256( "byok-audit-tenant-v1" || head[n-1] || hash(event[n]) )

and, at an interval and on demand, makes one ``kms:Encrypt`` call on the tenant's own key
whose encryption context carries the head (:func:`anchor_context`). KMS writes that context
into the customer's CloudTrail, in the customer's account, where the vendor cannot change
it. Given the vendor's per-tenant export (JSON Lines, each event with ``prev_hash`` and
``hash``), the customer recomputes every event's hash and the tenant head at each anchored
position (:func:`check_export`): an edited, inserted, deleted or reordered event before an
anchor, and a truncated export, no longer reach the head that CloudTrail holds.

What an anchor does not prove: events after the newest anchor (anchor more often to shrink
that window), and events the vendor never recorded at all (the customer's CloudTrail lists
every KMS call, so unrecorded KMS calls show there). docs/SECURITY.md#audit-head-anchoring.

Pure: no AWS, no database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from byok.core.audit_chain import GENESIS_HASH, AuditEvent, chain_hash
from byok.core.context import TENANT_CONTEXT_KEY

__all__ = [
    "ANCHOR_HEAD_KEY",
    "ANCHOR_PLAINTEXT",
    "ANCHOR_SEQ_KEY",
    "Anchor",
    "ExportCheck",
    "anchor_context",
    "anchor_from_context",
    "check_export",
    "event_from_export",
    "fold_tenant_head",
]

ANCHOR_HEAD_KEY: Final = "byok:audit-head"
ANCHOR_SEQ_KEY: Final = "byok:audit-seq"
#: What the anchoring ``kms:Encrypt`` encrypts: a constant; only its encryption context matters.
ANCHOR_PLAINTEXT: Final = b"byok-audit-anchor-v1"
_DOMAIN: Final = b"byok-audit-tenant-v1"
_MAX_LINE: Final = 1 << 20  # an export line longer than 1 MiB is refused, not parsed


def fold_tenant_head(previous: str, event_hash: str) -> str:
    """Return the tenant head after an event whose chain hash is ``event_hash``.

    Raises:
        ValueError: either argument is not a 64-digit hex SHA-256.
    """
    digest = hashlib.sha256(_DOMAIN)
    digest.update(_hex32(previous))
    digest.update(_hex32(event_hash))
    return digest.hexdigest()


def anchor_context(tenant: str, seq: int, head: str) -> dict[str, str]:
    """The encryption context of the anchoring KMS call for ``tenant``'s head at ``seq``.

    It carries ``byok:tenant`` too, so key policies limited to the tenant's context allow it.
    """
    return {TENANT_CONTEXT_KEY: tenant, ANCHOR_SEQ_KEY: str(seq), ANCHOR_HEAD_KEY: head}


@dataclass(frozen=True)
class Anchor:
    """One anchored tenant head, as found in CloudTrail (or as the vendor made it).

    Attributes:
        tenant: the tenant.
        seq: the chain sequence number of the tenant's last event folded into ``head``.
        head: the tenant head (hex).
        time: when the anchoring call was made.
        request_id: the KMS request id of the anchoring call.
    """

    tenant: str
    seq: int
    head: str
    time: datetime | None = None
    request_id: str | None = None


def anchor_from_context(
    context: Mapping[str, Any], *, time: datetime | None = None, request_id: str | None = None
) -> Anchor | None:
    """Read an :class:`Anchor` from an encryption context, or None if it carries none."""
    head, seq, tenant = (
        context.get(k) for k in (ANCHOR_HEAD_KEY, ANCHOR_SEQ_KEY, TENANT_CONTEXT_KEY)
    )
    if not (isinstance(head, str) and isinstance(seq, str) and isinstance(tenant, str)):
        return None
    if not seq.isdigit() or len(head) != 64:
        return None
    try:
        _hex32(head)
    except ValueError:
        return None
    return Anchor(tenant, int(seq), head.lower(), time, request_id)


@dataclass(frozen=True)
class ExportCheck:
    """The result of :func:`check_export`.

    Attributes:
        ok: every event's hash recomputes and every anchor in range matches.
        events: how many export lines were read.
        anchors_matched: anchors whose head the export reproduces.
        first_bad_seq: the first event that does not match (or the first of a range).
        reason: why, in words, with what to do.
        unanchored_events: events after the newest matched anchor (not yet provable).
        head: the tenant head over the whole export.
    """

    ok: bool
    events: int
    anchors_matched: int
    first_bad_seq: int | None = None
    reason: str | None = None
    unanchored_events: int = 0
    head: str = GENESIS_HASH


def event_from_export(line: Mapping[str, Any]) -> tuple[AuditEvent, str, str]:
    """Parse one export line into ``(event, prev_hash, hash)``.

    Raises:
        ValueError: a field is missing or has the wrong type.
    """
    try:
        event = AuditEvent(
            seq=int(line["seq"]), time=datetime.fromisoformat(str(line["time"])),
            actor=str(line["actor"]), tenant=line["tenant"], operation=str(line["operation"]),
            outcome=str(line["outcome"]), document=line["document"], tk_id=line["tk_id"],
            kms_request_id=line["kms_request_id"], bytes=int(line["bytes"]),
            detail=dict(line["detail"]),
        )  # fmt: skip
        return event, str(line["prev_hash"]), str(line["hash"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an audit export line ({exc})") from None


def check_export(lines: Iterable[str], anchors: Iterable[Anchor], tenant: str) -> ExportCheck:
    """Check a vendor's per-tenant audit export against anchors found in CloudTrail.

    Every line's ``hash`` must equal ``chain_hash(prev_hash, event)``; sequence numbers must
    increase; every event must belong to ``tenant``; and for every anchor the export must hold
    the event at the anchored sequence number with the tenant head equal to the anchor's.

    Returns:
        An :class:`ExportCheck`; never raises for bad content (it names the first bad event).
    """
    wanted = sorted((a for a in anchors if a.tenant == tenant), key=lambda a: a.seq)
    head, count, matched, last_seq, last_anchored_count = GENESIS_HASH, 0, 0, 0, 0
    range_start: int | None = None  # the first event after the last matched anchor
    pending = iter(wanted)
    anchor = next(pending, None)
    for raw in lines:
        if not raw.strip():
            continue
        parsed = _parse_line(raw)
        if isinstance(parsed, str):
            return ExportCheck(False, count, matched, last_seq + 1, parsed, head=head)
        event, prev_hash, stored = parsed
        bad = _event_problem(event, prev_hash, stored, tenant, last_seq)
        if bad:
            return ExportCheck(False, count, matched, event.seq, bad, head=head)
        if anchor is not None and anchor.seq < event.seq:  # the anchored event is missing
            return _missing(anchor, count, matched, head, truncated=False, last_seq=last_seq)
        head, count, last_seq = fold_tenant_head(head, stored), count + 1, event.seq
        range_start = event.seq if range_start is None else range_start
        if anchor is not None and anchor.seq == event.seq:
            if not hmac.compare_digest(head, anchor.head):
                return _mismatch(anchor, count, matched, range_start, head)
            matched, last_anchored_count, range_start = matched + 1, count, None
            anchor = next(pending, None)
    if anchor is not None:
        return _missing(anchor, count, matched, head, truncated=True, last_seq=last_seq)
    return ExportCheck(
        True, count, matched, unanchored_events=count - last_anchored_count, head=head
    )


def _parse_line(raw: str) -> tuple[AuditEvent, str, str] | str:
    if len(raw) > _MAX_LINE:
        return "an export line is longer than 1 MiB"
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            return "an export line is not a JSON object"
        return event_from_export(data)
    except ValueError as exc:
        return f"an export line cannot be read: {exc}"


def _event_problem(
    event: AuditEvent, prev_hash: str, stored: str, tenant: str, last_seq: int
) -> str | None:
    if event.tenant != tenant:
        return f"event {event.seq} belongs to another tenant ({event.tenant!r})"
    if event.seq <= last_seq:
        return f"event {event.seq} is out of order (after {last_seq})"
    try:
        recomputed = chain_hash(prev_hash, event)
    except (ValueError, TypeError):
        return f"event {event.seq} has a malformed prev_hash"
    if not hmac.compare_digest(recomputed, stored):
        return f"event {event.seq} was edited: its hash does not match its content"
    return None


def _missing(
    anchor: Anchor, count: int, matched: int, head: str, *, truncated: bool, last_seq: int
) -> ExportCheck:
    when = f" (anchored {anchor.time:%Y-%m-%d %H:%M:%S} UTC)" if anchor.time else ""
    if truncated:
        reason = (
            f"truncated: your CloudTrail anchors event {anchor.seq}{when}, but the export ends "
            f"at event {last_seq}; ask the vendor for the full export"
        )
    else:
        reason = (
            f"event {anchor.seq}, anchored in your CloudTrail{when}, is missing from the export "
            "(deleted or renumbered)"
        )
    return ExportCheck(False, count, matched, anchor.seq, reason, head=head)


def _mismatch(anchor: Anchor, count: int, matched: int, start: int, head: str) -> ExportCheck:
    reason = (
        f"rewritten: the export's events up to {anchor.seq} do not reproduce the head anchored "
        f"in your CloudTrail (request {anchor.request_id or 'unknown'}): an event from {start} "
        f"to {anchor.seq} was edited, inserted or deleted and the chain recomputed"
    )
    return ExportCheck(False, count, matched, start, reason, head=head)


def _hex32(value: str) -> bytes:
    raw = bytes.fromhex(value)
    if len(raw) != 32:
        raise ValueError("expected a 64-digit hex SHA-256")
    return raw
