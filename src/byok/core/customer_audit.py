"""Audit of a customer's pasted policies (``byok customer audit --policy-file``), pure.

Answers, through the project's own policy evaluator (:mod:`byok.core.policy.evaluate`), the
questions of the customer guide's "regularly audit" advice:

* can the vendor use the key, and only with the five actions (Option A: the vendor's
  role; Option B: the vendor's document-storage role through the client role);
* Option B: is the External ID *required*: a request without it, or with a wrong one, must be
  refused. A condition that is merely present (``StringEqualsIfExists``, a second Allow without
  the condition, ``StringLike "*"``) is caught because the refusal is evaluated, not the text;
* does any Allow name a wildcard principal, grant ``kms:*`` to someone other than the account
  root, or name an account other than the customer's and the vendor's; can an unrelated
  account use or manage the key, or assume the client role;
* is the key limited to this tenant's encryption context (HIGH when not: another tenant could
  point the vendor at it), and does Option A's statement name the role the vendor calls KMS
  as (:mod:`byok.core.binding_findings`).

Each :class:`Finding` has a severity, evidence (which statement, which request) and the fix.
The vendor's own IAM policies are assumed to allow everything: the audit judges only what the
customer controls. The checks themselves are in :mod:`byok.core.setup_checks`; a live
audit (which reads the policies from AWS) feeds the same :func:`audit_policies`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from byok.core.arn import parse_key_arn, parse_role_arn
from byok.core.binding_findings import tenant_binding_findings, vendor_role_findings
from byok.core.lever_findings import lever_findings
from byok.core.policy.evaluate import parse_policy
from byok.core.policy.templates import VendorIdentity
from byok.core.setup_checks import (
    ALL_KMS_ACTIONS,
    USE_ACTIONS,
    AuditSubject,
    Finding,
    Severity,
    key_user_findings,
    outsider_findings,
    trust_findings,
)
from byok.core.static_findings import static_findings
from byok.core.tenant_config import MODES, validate_external_id, validate_tenant_id
from byok.errors import InvalidInput

__all__ = [
    "ALL_KMS_ACTIONS",
    "USE_ACTIONS",
    "AuditReport",
    "Finding",
    "Severity",
    "audit_policies",
    "audit_policy_file",
]


@dataclass(frozen=True)
class AuditReport:
    """Every finding, worst first."""

    findings: tuple[Finding, ...]

    @property
    def worst(self) -> Severity | None:
        """The highest severity, or None when there is no finding at all."""
        return max((f.severity for f in self.findings), default=None)

    @property
    def codes(self) -> frozenset[str]:
        """The finding codes (for tests and pipelines)."""
        return frozenset(f.code for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: ``worst`` and ``findings``."""
        worst = self.worst
        return {
            "worst": None if worst is None else worst.label,
            "findings": [f.to_dict() for f in self.findings],
        }


def audit_policy_file(data: Mapping[str, Any], vendor: VendorIdentity) -> AuditReport:
    """Audit a policy file: a JSON object with ``tenant``, ``mode``, ``key_arn``,
    ``key_policy`` and, for Option B, ``client_role_arn``, ``external_id``, ``trust_policy``
    and ``permissions_policies`` (a list); optionally ``admins`` (ARNs). The hand-over JSON
    plus the pasted policies.

    Returns:
        The :class:`AuditReport`.

    Raises:
        InvalidInput: naming the missing, unknown or malformed field.
    """
    known = {
        "tenant",
        "mode",
        "key_arn",
        "region",
        "key_policy",
        "trust_policy",
        "permissions_policies",
        "client_role_arn",
        "external_id",
        "admins",
        "version",
    }
    if not isinstance(data, Mapping):
        raise InvalidInput("policy_file", "must be a JSON object")
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise InvalidInput(unknown[0], "is not a known field", fix="Remove it.")
    for name in ("tenant", "mode", "key_arn", "key_policy"):
        if name not in data:
            raise InvalidInput(name, "is required", fix="Add it to the policy file.")
    return audit_policies(
        vendor,
        tenant=data["tenant"],
        mode=data["mode"],
        key_arn=data["key_arn"],
        key_policy=data["key_policy"],
        trust_policy=data.get("trust_policy"),
        permissions_policies=data.get("permissions_policies", ()),
        client_role_arn=data.get("client_role_arn"),
        external_id=data.get("external_id"),
        admins=data.get("admins", ()),
    )


def audit_policies(
    vendor: VendorIdentity,
    *,
    tenant: str,
    mode: str,
    key_arn: str,
    key_policy: str | Mapping[str, Any],
    trust_policy: str | Mapping[str, Any] | None = None,
    permissions_policies: Sequence[str | Mapping[str, Any]] = (),
    client_role_arn: str | None = None,
    external_id: str | None = None,
    admins: Iterable[str] = (),
) -> AuditReport:
    """Audit a customer's key policy (and, for Option B, client role) without AWS.

    Returns:
        The :class:`AuditReport`, findings worst first.

    Raises:
        InvalidInput: a malformed field or policy (naming it), or Option B without
            ``client_role_arn``, ``external_id`` or ``trust_policy``.
    """
    audit = _prepare(
        vendor,
        tenant,
        mode,
        key_arn,
        key_policy,
        trust_policy,
        permissions_policies,
        client_role_arn,
        external_id,
        admins,
    )
    findings = [*key_user_findings(audit), *static_findings(audit), *outsider_findings(audit)]
    findings += tenant_binding_findings(audit) + vendor_role_findings(audit)
    findings += lever_findings(audit)
    if audit.trust is not None:
        findings += trust_findings(audit)
    ordered = sorted(findings, key=lambda f: (-f.severity, f.code, f.evidence))
    return AuditReport(tuple(ordered))


def _prepare(
    vendor: VendorIdentity,
    tenant: str,
    mode: str,
    key_arn: str,
    key_policy: Any,
    trust_policy: Any,
    permissions: Sequence[Any],
    client_role_arn: str | None,
    external_id: str | None,
    admins: Iterable[str],
) -> AuditSubject:
    validate_tenant_id(tenant)
    if mode not in MODES:
        raise InvalidInput("mode", f"{mode!r:.40} is not a mode", fix="Use direct or assume-role.")
    key = parse_key_arn(key_arn)
    trust = None
    if mode == "assume-role":
        for name, value in (
            ("client_role_arn", client_role_arn),
            ("external_id", external_id),
            ("trust_policy", trust_policy),
        ):
            if value is None:
                raise InvalidInput(
                    name, "is required for assume-role", fix="Add it to the policy file."
                )
        parse_role_arn(client_role_arn, field="client_role_arn")
        validate_external_id(external_id)
        trust = parse_policy(trust_policy, field="trust_policy")
    if isinstance(permissions, str | Mapping):
        raise InvalidInput("permissions_policies", "must be a list of policies")
    return AuditSubject(
        vendor=vendor,
        tenant=tenant,
        mode=mode,
        key_arn=key.arn,
        customer=key.account,
        key_policy=parse_policy(key_policy, field="key_policy"),
        trust=trust,
        permissions=tuple(parse_policy(p, field="permissions_policies") for p in permissions),
        client_role=client_role_arn if mode == "assume-role" else None,
        external_id=external_id,
        admins=frozenset(admins),
    )
