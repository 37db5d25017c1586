"""The individual checks of the customer set-up audit (:mod:`byok.core.customer_audit`).

Each check takes an :class:`AuditSubject` (the parsed policies and who is who) and returns
:class:`Finding` values. Access questions are answered by evaluating requests with
:mod:`byok.core.policy.evaluate`, never by reading policy text alone, so a condition that is
present but does not bind (``StringEqualsIfExists``, a second unconditional Allow) is caught.
The text is read only for evidence a customer can act on: which statement names a wildcard or
another account, which grants ``kms:*``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from byok.core.context import TENANT_CONTEXT_KEY
from byok.core.policy.evaluate import (
    PolicyDocument,
    Request,
    assume_role_authorize,
    explain,
    kms_authorize,
    parse_policy,
)
from byok.core.policy.templates import VendorIdentity

__all__ = [
    "ALL_KMS_ACTIONS",
    "USE_ACTIONS",
    "AuditSubject",
    "Finding",
    "Severity",
    "key_user",
    "key_user_findings",
    "kms_allows",
    "outsider_findings",
    "trust_findings",
]

# fmt: off
#: Every KMS API action (for "only the five actions": each is evaluated).
ALL_KMS_ACTIONS: Final = (
    "kms:CancelKeyDeletion", "kms:ConnectCustomKeyStore", "kms:CreateAlias",
    "kms:CreateCustomKeyStore", "kms:CreateGrant", "kms:CreateKey", "kms:Decrypt",
    "kms:DeleteAlias", "kms:DeleteCustomKeyStore", "kms:DeleteImportedKeyMaterial",
    "kms:DeriveSharedSecret", "kms:DescribeCustomKeyStores", "kms:DescribeKey", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:DisconnectCustomKeyStore", "kms:EnableKey",
    "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateMac", "kms:GenerateRandom", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:GetParametersForImport", "kms:GetPublicKey", "kms:ImportKeyMaterial", "kms:ListAliases",
    "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListKeys",
    "kms:ListResourceTags", "kms:ListRetirableGrants", "kms:PutKeyPolicy", "kms:ReEncryptFrom",
    "kms:ReEncryptTo", "kms:ReplicateKey", "kms:RetireGrant", "kms:RevokeGrant",
    "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:Sign", "kms:TagResource",
    "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateCustomKeyStore", "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion", "kms:Verify", "kms:VerifyMac",
)
#: The API actions the guide's five (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*,
#: DescribeKey) stand for.
USE_ACTIONS: Final = frozenset({
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:DescribeKey",
})
# What byok itself calls; a missing one breaks the service for the tenant.
_NEEDED: Final = (
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
    "kms:DescribeKey",
)
# Extra actions that let the vendor change or destroy access: critical, not only high.
_MANAGEMENT: Final = frozenset({
    "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:CreateGrant", "kms:DisableKey",
    "kms:DeleteImportedKeyMaterial", "kms:UpdateAlias", "kms:ReplicateKey",
})
# fmt: on
_FIX_FIVE = (
    "Grant exactly kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey* and "
    "kms:DescribeKey (docs/CUSTOMER.md, step 2)."
)


class Severity(enum.IntEnum):
    """How bad a finding is; the CLI's exit code follows the worst one."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """Lower-case name (``critical`` ... ``info``)."""
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    """One audit result: a stable ``code``, its severity, what was seen, and the fix."""

    code: str
    severity: Severity
    title: str
    evidence: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-safe dict (for ``--json``)."""
        return {
            "code": self.code,
            "severity": self.severity.label,
            "title": self.title,
            "evidence": self.evidence,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class AuditSubject:
    """What is audited: the vendor, the tenant, the key and the parsed customer policies."""

    vendor: VendorIdentity
    tenant: str
    mode: str
    key_arn: str
    customer: str
    key_policy: PolicyDocument
    trust: PolicyDocument | None
    permissions: tuple[PolicyDocument, ...]
    client_role: str | None
    external_id: str | None
    admins: frozenset[str]

    @property
    def outsider(self) -> str:
        """An account id that is neither the customer's nor the vendor's."""
        return next(
            a
            for a in ("210987654321", "210987654322")
            if a not in (self.customer, self.vendor.account)
        )


def _caller(arn: str, session: str = "byok-audit") -> tuple[tuple[str, ...], str]:
    """The ARNs of a session of role ``arn``, and its account."""
    account, name = arn.split(":")[4], arn.rsplit("/", 1)[1]
    return (f"arn:aws:sts::{account}:assumed-role/{name}/{session}", arn), account


def _everything() -> PolicyDocument:
    return parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )


#: The scope, period and reason the audit's probes state (no customer denies these names), so a
#: strict key policy (``--require-context``) still lets the probes through.
PROBE_CONTEXT: Final = {
    "byok:scope": "byok-audit-probe",
    "byok:period": "2000-01",
    "byok:reason": "customer-request",
}


def kms_allows(
    audit: AuditSubject,
    role_arn: str,
    action: str,
    tenant: str | None,
    *,
    context: Mapping[str, str | None] | None = None,
) -> bool:
    """Whether a session of ``role_arn`` may do ``action`` on the key with ``tenant``'s
    encryption context (None: no context), by the customer's policies.

    ``context`` overrides the probe's scope, period and reason (:data:`PROBE_CONTEXT`) or
    adds keys; a None value leaves that key out.
    """
    arns, account = _caller(role_arn)
    if account == audit.customer and role_arn == audit.client_role:
        identity = audit.permissions
    else:
        identity = (_everything(),)
    pairs: dict[str, str | None] = {TENANT_CONTEXT_KEY: tenant, "byok:tk": "byok-audit"}
    pairs |= PROBE_CONTEXT | dict(context or {})
    keys = (
        {}
        if tenant is None or action == "kms:DescribeKey"
        else {f"kms:EncryptionContext:{k}": v for k, v in pairs.items() if v is not None}
    )
    request = Request(arns, account, action, audit.key_arn, keys)
    decision = kms_authorize(audit.key_policy, identity, request, key_account=audit.customer)
    return decision.allowed


def key_user(audit: AuditSubject) -> str:
    """The principal the key policy must let use the key: the client role (B), else the
    vendor role (A)."""
    if audit.client_role is not None:
        return audit.client_role
    return audit.vendor.role_arn("direct")


def key_user_findings(audit: AuditSubject) -> list[Finding]:
    """See the module docstring.

    Returns:
        The findings of this check (possibly none).
    """
    user = key_user(audit)
    allowed = {a for a in ALL_KMS_ACTIONS if kms_allows(audit, user, a, audit.tenant)}
    findings = []
    missing = [a for a in _NEEDED if a not in allowed]
    if missing:
        findings.append(
            Finding(
                "vendor-cannot-use-key",
                Severity.HIGH,
                "The vendor cannot use the key: the service will fail for this tenant",
                f"{user} is refused {', '.join(missing)} with this tenant's encryption context",
                _FIX_FIVE,
            )
        )
    extra = sorted(allowed - USE_ACTIONS)
    if extra:
        severe = Severity.CRITICAL if _MANAGEMENT & set(extra) else Severity.HIGH
        findings.append(
            Finding(
                "vendor-excess-actions",
                severe,
                "The vendor may do more than the five actions",
                f"{user} is allowed {', '.join(extra)}",
                _FIX_FIVE,
            )
        )
    return findings


def trust_findings(audit: AuditSubject) -> list[Finding]:
    """See the module docstring.

    Returns:
        The findings of this check (possibly none).
    """
    if audit.trust is None or audit.client_role is None or audit.external_id is None:
        return []
    dsr = audit.vendor.role_arn("assume-role")
    ext = audit.external_id
    cases = [
        (
            dsr,
            ext,
            True,
            "vendor-cannot-assume-client-role",
            Severity.HIGH,
            "The vendor's document-storage role cannot assume the client role",
            "Trust the vendor's document-storage role with StringEquals on sts:ExternalId.",
        ),
        (
            dsr,
            None,
            False,
            "external-id-not-required",
            Severity.CRITICAL,
            "The client role can be assumed without the External ID (confused deputy)",
            "Require it: Condition StringEquals sts:ExternalId, in every Allow statement.",
        ),
        (
            dsr,
            ext + "-wrong",
            False,
            "external-id-not-checked",
            Severity.CRITICAL,
            "The client role can be assumed with a wrong External ID (confused deputy)",
            "Use StringEquals with the exact External ID, not StringLike or a wildcard.",
        ),
        (
            f"arn:aws:iam::{audit.vendor.account}:role/byok-audit-other-role",
            ext,
            False,
            "trust-too-broad",
            Severity.MEDIUM,
            "Vendor roles other than the document-storage role can assume the client role",
            "Name the vendor's document-storage role ARN as the principal, not its account.",
        ),
        (
            f"arn:aws:iam::{audit.outsider}:role/byok-audit-outsider",
            ext,
            False,
            "client-role-assumable-by-others",
            Severity.CRITICAL,
            "Another AWS account can assume the client role",
            "Trust only the vendor's document-storage role; remove wildcard principals.",
        ),
    ]
    findings = []
    for role, external_id, expected, code, severity, title, fix in cases:
        arns, account = _caller(role)
        context = {} if external_id is None else {"sts:ExternalId": external_id}
        request = Request(arns, account, "sts:AssumeRole", audit.client_role, context)
        allowed = assume_role_authorize(
            audit.trust, [_everything()], request, role_account=audit.customer
        ).allowed
        if allowed != expected:
            shown = "no External ID" if external_id is None else "an External ID"
            if external_id is not None and external_id != ext:
                shown = "a wrong External ID"
            why = _labels(audit.trust, request) if allowed else "no statement allows it"
            findings.append(
                Finding(code, severity, title, f"sts:AssumeRole by {role} with {shown}: {why}", fix)
            )
    return findings


def _labels(policy: PolicyDocument, request: Request) -> str:
    found = explain(policy, request, resource_policy=True)
    return "allowed by " + ", ".join(repr(m.label) for m in found.allows)


def outsider_findings(audit: AuditSubject) -> list[Finding]:
    """See the module docstring.

    Returns:
        The findings of this check (possibly none).
    """
    role = f"arn:aws:iam::{audit.outsider}:role/byok-audit-outsider"
    allowed = [
        a
        for a in ("kms:Decrypt", "kms:PutKeyPolicy", "kms:CreateGrant")
        if kms_allows(audit, role, a, audit.tenant)
    ]
    if not allowed:
        return []
    return [
        Finding(
            "other-account-access",
            Severity.CRITICAL,
            "An unrelated AWS account can use or manage the key",
            f"a role of account {audit.outsider} is allowed {', '.join(allowed)}",
            "Allow only your account root, your key administrators and the vendor's "
            "role (A) or your client role (B).",
        )
    ]
