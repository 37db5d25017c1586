"""``byok customer activity``: what the vendor did with the key, from the customer's CloudTrail.

CloudTrail records every KMS call on the key in the key owner's account, with the caller
(``userIdentity``), the encryption context (``requestParameters.encryptionContext``: byok puts
the tenant id under ``byok:tenant``), the request id and, for a refusal, the error code. This
module reads them with ``cloudtrail:LookupEvents`` (lookup attribute ``ResourceName`` = key
ARN, in the key's region) and groups them by operation, by tenant context and by caller, each
with a count, the errors among them and the last time seen.

Parsing and grouping are pure (:func:`parse_event`, :func:`summarize`); only
:func:`key_activity` calls AWS. CloudTrail's event history covers the last 90 days; events
appear there a few minutes after the call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from byok.core.arn import parse_key_arn
from byok.core.context import REASON_CONTEXT_KEY, SCOPE_CONTEXT_KEY, TENANT_CONTEXT_KEY
from byok.customer.aws import CustomerAws
from byok.errors import InvalidInput

__all__ = [
    "NOT_STATED",
    "NO_CONTEXT",
    "ActivityReport",
    "KeyUse",
    "UsageGroup",
    "key_activity",
    "lookup_key_records",
    "parse_event",
    "parse_since",
    "summarize",
    "vendor_filter",
]

#: The tenant label of calls without a ``byok:tenant`` encryption context (e.g. DescribeKey).
NO_CONTEXT: Final = "(no byok:tenant context)"
_MAX_EVENTS: Final = 10_000
_HISTORY: Final = timedelta(days=90)  # CloudTrail event history
#: The group of uses that state no reason (or scope): anchors, and keys made before them.
NOT_STATED: Final = "(none stated)"
_UNITS: Final = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class KeyUse:
    """One CloudTrail record of a call on the key.

    Attributes:
        time: when (UTC).
        operation: the KMS API, e.g. ``GenerateDataKey``.
        caller: the caller's ARN (assumed-role session ARN for a role).
        caller_account: the caller's account.
        role_arn: for a role session, the role's ARN (the session issuer).
        tenant: the ``byok:tenant`` encryption-context value, if any.
        error: CloudTrail's ``errorCode`` for a refused call, else None.
        request_id: the AWS request id (the vendor's audit log records it too).
    """

    time: datetime
    operation: str
    caller: str
    caller_account: str
    role_arn: str | None
    tenant: str | None
    error: str | None
    request_id: str
    #: The ``byok:reason`` and ``byok:scope`` the vendor stated (docs/CUSTOMER.md, "Levers").
    reason: str | None = None
    scope: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "time": _iso(self.time),
            "operation": self.operation,
            "caller": self.caller,
            "caller_account": self.caller_account,
            "role_arn": self.role_arn,
            "tenant": self.tenant,
            "error": self.error,
            "request_id": self.request_id,
            "reason": self.reason,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class UsageGroup:
    """Uses sharing one value (an operation, a tenant, a caller)."""

    name: str
    count: int
    errors: int
    last: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "name": self.name,
            "count": self.count,
            "errors": self.errors,
            "last": _iso(self.last),
        }


@dataclass(frozen=True)
class ActivityReport:
    """The uses of one key in a time window, grouped."""

    key_arn: str
    since: datetime
    uses: tuple[KeyUse, ...]
    by_operation: tuple[UsageGroup, ...]
    by_tenant: tuple[UsageGroup, ...]
    by_caller: tuple[UsageGroup, ...]
    by_reason: tuple[UsageGroup, ...] = ()
    by_scope: tuple[UsageGroup, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (uses newest first)."""
        return {
            "key_arn": self.key_arn,
            "since": _iso(self.since),
            "total": len(self.uses),
            "errors": sum(1 for u in self.uses if u.error),
            "by_operation": [g.to_dict() for g in self.by_operation],
            "by_tenant": [g.to_dict() for g in self.by_tenant],
            "by_caller": [g.to_dict() for g in self.by_caller],
            "by_reason": [g.to_dict() for g in self.by_reason],
            "by_scope": [g.to_dict() for g in self.by_scope],
            "uses": [u.to_dict() for u in self.uses],
        }


def parse_since(text: str, now: datetime) -> datetime:
    """Parse ``--since``: a duration back from ``now`` (``90m``, ``24h``, ``7d``) or an ISO
    8601 time (UTC unless it names a zone).

    Returns:
        The start time (UTC).

    Raises:
        InvalidInput: field ``since`` if it is neither, in the future, or more than 90 days
            back (CloudTrail's event history).
    """
    fix = "Give e.g. 90m, 24h, 7d (at most 90d) or 2026-11-28T09:00:00Z."
    text = text.strip()
    if text[:-1].isdigit() and text[-1:] in _UNITS:
        start = now - timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
    else:
        try:
            start = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(
                "since", f"{text!r:.40} is not a duration or time", fix=fix
            ) from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    if start > now or now - start > _HISTORY:
        raise InvalidInput("since", "must be within the last 90 days", fix=fix)
    return start.astimezone(UTC)


def parse_event(record: Mapping[str, Any]) -> KeyUse:
    """One CloudTrail record (the parsed ``CloudTrailEvent``) as a :class:`KeyUse`.

    Missing fields become empty strings / None: a record is evidence, never a reason to fail.

    Returns:
        The use.
    """
    identity = record.get("userIdentity") or {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return KeyUse(
        time=_parse_time(str(record.get("eventTime") or "")),
        operation=str(record.get("eventName") or ""),
        caller=str(identity.get("arn") or identity.get("invokedBy") or ""),
        caller_account=str(identity.get("accountId") or ""),
        role_arn=issuer.get("arn"),
        tenant=_context_value(record.get("requestParameters"), TENANT_CONTEXT_KEY),
        error=record.get("errorCode"),
        request_id=str(record.get("requestID") or ""),
        reason=_context_value(record.get("requestParameters"), REASON_CONTEXT_KEY),
        scope=_context_value(record.get("requestParameters"), SCOPE_CONTEXT_KEY),
    )


def summarize(
    key_arn: str,
    since: datetime,
    uses: Iterable[KeyUse],
    *,
    keep: Callable[[KeyUse], bool] = lambda use: True,
) -> ActivityReport:
    """Group ``uses`` that ``keep`` accepts (pure).

    Returns:
        The report: uses newest first; groups by count, largest first, then by name.
    """
    kept = sorted((u for u in uses if keep(u)), key=lambda u: u.time, reverse=True)
    return ActivityReport(
        key_arn,
        since,
        tuple(kept),
        _groups(kept, lambda u: u.operation),
        _groups(kept, lambda u: u.tenant or NO_CONTEXT),
        _groups(kept, lambda u: u.role_arn or u.caller),
        _groups(kept, lambda u: u.reason or NOT_STATED),
        _groups(kept, lambda u: u.scope or NOT_STATED),
    )


def vendor_filter(
    vendor_account: str | None, client_role_arn: str | None
) -> Callable[[KeyUse], bool]:
    """Keep the vendor's uses: calls from ``vendor_account`` (Option A) or by sessions of
    ``client_role_arn`` (Option B, the role lives in the customer's account). Neither: all.

    Returns:
        A predicate for :func:`summarize`.
    """
    if vendor_account is None and client_role_arn is None:
        return lambda use: True

    def keep(use: KeyUse) -> bool:
        by_vendor = vendor_account is not None and use.caller_account == vendor_account
        by_role = client_role_arn is not None and use.role_arn == client_role_arn
        return by_vendor or by_role

    return keep


def key_activity(
    aws: CustomerAws,
    key_arn: str,
    *,
    since: timedelta | datetime,
    vendor_account: str | None = None,
    client_role_arn: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_events: int = 1000,
) -> ActivityReport:
    """Read the key's CloudTrail events since ``since`` and group the vendor's uses.

    Args:
        aws: the customer's AWS access (``cloudtrail:LookupEvents`` in the key's region).
        key_arn: the key.
        since: a start time, or how far back from ``now``.
        vendor_account, client_role_arn: see :func:`vendor_filter`.
        now: the clock.
        max_events: stop after this many events (newest first; LookupEvents is slow).

    Returns:
        The :class:`ActivityReport`.

    Raises:
        InvalidInput: ``key_arn`` is not a key ARN.
        CustomerAccessError: the credentials may not call ``cloudtrail:LookupEvents``.
        TransientKmsError: AWS throttled or failed after retries.
    """
    start = now() - since if isinstance(since, timedelta) else since
    records = lookup_key_records(aws, key_arn, start=start, end=now(), max_events=max_events)
    return summarize(
        key_arn,
        start,
        [parse_event(r) for r in records],
        keep=vendor_filter(vendor_account, client_role_arn),
    )


def lookup_key_records(
    aws: CustomerAws, key_arn: str, *, start: datetime, end: datetime, max_events: int = 1000
) -> list[Mapping[str, Any]]:
    """Read the CloudTrail records of calls on ``key_arn`` between ``start`` and ``end``.

    Returns:
        At most ``max_events`` records (newest first), each the CloudTrail record as a dict.

    Raises:
        InvalidInput: ``key_arn`` is not a key ARN.
        CustomerAccessError: the credentials may not call ``cloudtrail:LookupEvents``.
        TransientKmsError: AWS throttled or failed after retries.
    """
    region = parse_key_arn(key_arn).region
    records: list[Mapping[str, Any]] = []
    token: str | None = None
    limit = max(1, min(max_events, _MAX_EVENTS))
    while len(records) < limit:
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": key_arn}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": 50,
        }
        if token:
            params["NextToken"] = token
        page = aws.call("cloudtrail", "LookupEvents", region=region, resource=key_arn, **params)
        records.extend(_record(e) for e in page.get("Events", []))
        token = page.get("NextToken")
        if not token:
            break
    return records[:limit]


def _record(event: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    record.setdefault("eventName", event.get("EventName"))
    if "eventTime" not in record and isinstance(event.get("EventTime"), datetime):
        record["eventTime"] = _iso(event["EventTime"])
    return record


def _context_value(parameters: Any, key: str) -> str | None:
    if not isinstance(parameters, Mapping):
        return None
    for name in ("encryptionContext", "destinationEncryptionContext", "sourceEncryptionContext"):
        context = parameters.get(name)
        if isinstance(context, Mapping) and key in context:
            return str(context[key])
    return None


def _groups(uses: list[KeyUse], name_of: Callable[[KeyUse], str]) -> tuple[UsageGroup, ...]:
    counts: dict[str, list[int]] = {}
    last: dict[str, datetime] = {}
    for use in uses:
        name = name_of(use)
        entry = counts.setdefault(name, [0, 0])
        entry[0] += 1
        entry[1] += 1 if use.error else 0
        last[name] = max(last.get(name, use.time), use.time)
    groups = [UsageGroup(n, c[0], c[1], last[n]) for n, c in counts.items()]
    return tuple(sorted(groups, key=lambda g: (-g.count, g.name)))


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
