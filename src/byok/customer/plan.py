"""What ``byok customer setup`` did (or, in a dry run, would do): calls, changes, result.

A :class:`Plan` runs read calls always and write calls only when it is not a dry run; every
write is recorded as a :class:`PlannedCall` (operation, parameters with policy documents
decoded to JSON objects) under the :class:`Change` of the resource it touches, so the CLI can
print every call and document, and a second run can say "no change" per resource.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import unquote

from byok.customer.aws import CustomerAws

__all__ = ["Change", "Outcome", "Plan", "PlannedCall", "SetupResult", "same_document"]

Outcome = Literal["create", "update", "no change"]
_DOCUMENT_PARAMS: Final = ("Policy", "PolicyDocument", "AssumeRolePolicyDocument")


@dataclass(frozen=True)
class PlannedCall:
    """One write call: ``service:Operation`` and its parameters (documents as objects)."""

    operation: str
    parameters: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"operation": self.operation, "parameters": dict(self.parameters)}


@dataclass(frozen=True)
class Change:
    """What happened to one resource.

    Attributes:
        resource: ``key``, ``alias``, ``key rotation``, ``client role``, ``permissions policy``
            or ``key policy``.
        outcome: ``create``, ``update`` or ``no change``.
        detail: one sentence for people.
        calls: the write calls made (or planned, in a dry run); empty for ``no change``.
    """

    resource: str
    outcome: Outcome
    detail: str
    calls: tuple[PlannedCall, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "resource": self.resource,
            "outcome": self.outcome,
            "detail": self.detail,
            "calls": [c.to_dict() for c in self.calls],
        }


@dataclass(frozen=True)
class SetupResult:
    """The outcome of :func:`byok.customer.setup.run_setup`.

    Attributes:
        dry_run: True if no write call was made.
        account: the customer account (from the credentials).
        key_arn: the key's ARN; None in a dry run that would create the key.
        region: the key's region.
        client_role_arn: Option B: the client role's ARN; None for Option A.
        changes: one :class:`Change` per resource, in the order they were handled.
        handover: what to hand to the vendor (``TenantKeyConfig.from_dict`` accepts it); in
            a dry run that would create the key its ``key_arn`` is a placeholder.
        api_calls: every AWS API call this run made, per ``service:Operation`` (in a dry run
            only reads).
    """

    dry_run: bool
    account: str
    key_arn: str | None
    region: str
    client_role_arn: str | None
    changes: tuple[Change, ...]
    handover: Mapping[str, Any] = field(default_factory=dict)
    api_calls: Mapping[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True if any resource was (or would be) created or updated."""
        return any(c.outcome != "no change" for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``handover`` is the part to send to the vendor)."""
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "account": self.account,
            "key_arn": self.key_arn,
            "region": self.region,
            "client_role_arn": self.client_role_arn,
            "changes": [c.to_dict() for c in self.changes],
            "handover": dict(self.handover),
            "api_calls": dict(self.api_calls),
        }


class Plan:
    """Runs reads, runs or records writes, collects :class:`Change` entries.

    Args:
        aws: the customer's AWS access.
        dry_run: record writes without calling AWS.
    """

    def __init__(self, aws: CustomerAws, *, dry_run: bool) -> None:
        self.aws = aws
        self.dry_run = dry_run
        self.changes: list[Change] = []

    def read(self, service: str, operation: str, **params: Any) -> Any:
        """Make a read call (also in a dry run). See :meth:`CustomerAws.call`.

        Returns:
            The response, or None for a ``missing`` code.

        Raises:
            ByokError: as :meth:`CustomerAws.call`.
        """
        return self.aws.call(service, operation, **params)

    def write(self, service: str, operation: str, **params: Any) -> tuple[PlannedCall, Any]:
        """Make a write call, unless this is a dry run.

        Returns:
            The recorded call and the response (None in a dry run).

        Raises:
            ByokError: as :meth:`CustomerAws.call`.
        """
        shown = {
            k: _decoded(v) if k in _DOCUMENT_PARAMS else v
            for k, v in params.items()
            if k != "region"
        }
        planned = PlannedCall(f"{service}:{operation}", shown)
        if self.dry_run:
            return planned, None
        return planned, self.aws.call(service, operation, **params)

    def record(self, resource: str, outcome: Outcome, detail: str, *calls: PlannedCall) -> None:
        """Add the :class:`Change` of one resource."""
        self.changes.append(Change(resource, outcome, detail, tuple(calls)))


def same_document(current: Any, desired: Mapping[str, Any]) -> bool:
    """True if a policy read from AWS (JSON text or object) equals ``desired``.

    Compares the decoded JSON, so whitespace and key order in the stored text do not count
    as a change, while any change of statements, principals, actions or conditions does.
    """
    return bool(_decoded(current) == json.loads(json.dumps(desired)))


def _decoded(value: Any) -> Any:
    """A policy as a JSON object: IAM may hand back URL-encoded text; junk stays text."""
    if not isinstance(value, str):
        return value
    for text in (value, unquote(value)):
        try:
            return json.loads(text)
        except ValueError:
            continue
    return value
