"""``byok customer activity --verify-audit``: check the vendor's audit export against CloudTrail.

The vendor anchors each tenant's audit head in the customer's CloudTrail with one
``kms:Encrypt`` whose encryption context carries ``byok:audit-head`` and ``byok:audit-seq``
(``byok.core.audit_anchor``). This module finds those anchors in the customer's own
CloudTrail (successful ``Encrypt`` calls on the key, by anyone) and checks the vendor's
per-tenant export (``byok audit export``) against them with the pure
:func:`~byok.core.audit_anchor.check_export`: a rewritten, reordered, shortened or truncated
export is named, with the first event that does not match.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from byok.core.audit_anchor import Anchor, ExportCheck, anchor_from_context, check_export
from byok.customer.activity import lookup_key_records
from byok.customer.aws import CustomerAws
from byok.errors import InvalidInput

__all__ = ["AuditVerification", "anchors_in_records", "verify_audit_export"]


@dataclass(frozen=True)
class AuditVerification:
    """The export check and the anchors it used."""

    tenant: str
    check: ExportCheck
    anchors: tuple[Anchor, ...]

    @property
    def ok(self) -> bool:
        """True when the export matches and at least one anchor was found."""
        return self.check.ok and bool(self.anchors)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        check = self.check
        return {
            "tenant": self.tenant, "ok": self.ok, "events": check.events,
            "anchors_found": len(self.anchors), "anchors_matched": check.anchors_matched,
            "first_bad_seq": check.first_bad_seq, "reason": self.reason,
            "unanchored_events": check.unanchored_events, "head": check.head,
            "newest_anchor": _anchor_dict(self.anchors[-1]) if self.anchors else None,
        }  # fmt: skip

    @property
    def reason(self) -> str | None:
        """Why the check failed, or None."""
        if not self.anchors and self.check.ok:
            return (
                "no audit anchor for this tenant in your CloudTrail for the period: the export "
                "cannot be checked against your account; ask the vendor to anchor "
                "(`byok audit anchor`) or widen --since"
            )
        return self.check.reason


def anchors_in_records(records: Iterable[Mapping[str, Any]], tenant: str) -> list[Anchor]:
    """The audit anchors for ``tenant`` among CloudTrail records, oldest first (pure).

    Only successful ``Encrypt`` calls count: a refused call anchored nothing.
    """
    found: dict[tuple[int, str], Anchor] = {}
    for record in records:
        if record.get("eventName") != "Encrypt" or record.get("errorCode"):
            continue
        parameters = record.get("requestParameters")
        context = parameters.get("encryptionContext") if isinstance(parameters, Mapping) else None
        if not isinstance(context, Mapping):
            continue
        anchor = anchor_from_context(
            context, time=_time(record.get("eventTime")), request_id=record.get("requestID")
        )
        if anchor is not None and anchor.tenant == tenant:
            found.setdefault((anchor.seq, anchor.head), anchor)
    return sorted(found.values(), key=lambda a: a.seq)


def verify_audit_export(
    aws: CustomerAws,
    key_arn: str,
    export: Path,
    *,
    tenant: str | None,
    since: datetime,
    now: datetime | None = None,
    max_events: int = 10_000,
) -> AuditVerification:
    """Check the vendor's audit ``export`` of ``tenant`` against the anchors in CloudTrail.

    Args:
        aws: the customer's AWS access (``cloudtrail:LookupEvents``).
        key_arn: the tenant's key.
        export: the JSON Lines file from ``byok audit export``.
        tenant: the tenant; None takes it from the export's first line.
        since: the oldest CloudTrail event to read (at most 90 days back).
        now: the end of the period (default: now).
        max_events: read at most this many CloudTrail records.

    Returns:
        An :class:`AuditVerification`.

    Raises:
        InvalidInput: the export cannot be read, or names no tenant.
        CustomerAccessError, TransientKmsError: CloudTrail could not be read.
    """
    lines = _read_lines(export)
    name = tenant or _tenant_of(lines)
    end = now or datetime.now(UTC)
    records = lookup_key_records(aws, key_arn, start=since, end=end, max_events=max_events)
    anchors = anchors_in_records(records, name)
    return AuditVerification(name, check_export(lines, anchors, name), tuple(anchors))


def _read_lines(export: Path) -> list[str]:
    try:
        return export.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "verify_audit", f"cannot read {export}: {exc}",
            fix="Give the JSON Lines file written by the vendor's `byok audit export`.",
        ) from None  # fmt: skip


def _tenant_of(lines: list[str]) -> str:
    for line in lines:
        if line.strip():
            try:
                tenant = json.loads(line).get("tenant")
            except (ValueError, AttributeError):
                break
            if isinstance(tenant, str) and tenant:
                return tenant
            break
    raise InvalidInput(
        "tenant", "the export's first line names no tenant", fix="Give --tenant or --handover."
    )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _anchor_dict(anchor: Anchor) -> dict[str, Any]:
    return {
        "seq": anchor.seq, "head": anchor.head, "kms_request_id": anchor.request_id,
        "time": anchor.time.isoformat() if anchor.time else None,
    }  # fmt: skip
