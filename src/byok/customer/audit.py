"""``byok customer audit``: read the customer's set-up from AWS, then judge it.

Reads, with the customer's own credentials (read-only calls only):

* the key: ``kms:DescribeKey`` (state, spec, usage, manager, origin, multi-Region),
  ``kms:GetKeyRotationStatus``, ``kms:GetKeyPolicy``;
* Option B, the client role: ``iam:GetRole`` (trust policy, session length), its inline
  policies (``iam:ListRolePolicies``/``GetRolePolicy``) and attached managed policies
  (``iam:ListAttachedRolePolicies``/``GetPolicy``/``GetPolicyVersion``);
* the key's grants: ``kms:ListGrants`` (all pages; refused: "unknown");
* CloudTrail in the key's region: ``cloudtrail:DescribeTrails`` (shadow trails included),
  ``GetTrailStatus`` and ``GetEventSelectors``; if they are refused the answer is "unknown".

Then the policies go through the project's policy evaluation
(:func:`byok.core.customer_audit.audit_policies`) and the AWS facts through
:mod:`byok.customer.checks`. :data:`EXIT_CODES` maps the worst severity to the CLI's exit code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from byok.core.arn import parse_key_arn, parse_role_arn
from byok.core.customer_audit import AuditReport, Finding, Severity, audit_policies
from byok.core.policy.templates import SID_ADMINS, VendorIdentity
from byok.customer.aws import CustomerAws
from byok.customer.checks import (
    KeyFacts,
    TrailFacts,
    external_id_findings,
    key_findings,
    role_findings,
    selectors_cover_kms,
    trail_findings,
)
from byok.customer.grant_checks import grant_findings
from byok.customer.offboarded import offboarded_findings
from byok.errors import ByokError, ConfigurationError, InvalidInput, TransientKmsError

__all__ = [
    "EXIT_CODES",
    "CustomerAuditResult",
    "Finding",
    "Severity",
    "exit_code_for",
    "read_grants",
    "read_key",
    "read_trails",
    "run_audit",
]

#: Exit code of ``byok customer audit`` by worst severity (none or info: 0). Errors that stop
#: the audit use :data:`byok.errors.ERROR_TABLE` (1, 2, 10-16, 20-22), never 3-6.
EXIT_CODES: Final[dict[Severity | None, int]] = {
    None: 0,
    Severity.INFO: 0,
    Severity.LOW: 3,
    Severity.MEDIUM: 4,
    Severity.HIGH: 5,
    Severity.CRITICAL: 6,
}
# A trust policy that trusts nobody: stands in for a client role that does not exist.
_NOBODY: Final = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}


@dataclass(frozen=True)
class CustomerAuditResult:
    """The audit's findings and what it read."""

    report: AuditReport
    key: KeyFacts
    trails: TrailFacts
    client_role_arn: str | None = None
    client_role_found: bool | None = None

    @property
    def exit_code(self) -> int:
        """The CLI exit code for the worst finding (:data:`EXIT_CODES`)."""
        return exit_code_for(self.report)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: ``worst``, ``exit_code``, ``observed`` and ``findings``."""
        observed: dict[str, Any] = {"key": self.key.to_dict(), "cloudtrail": self.trails.to_dict()}
        if self.client_role_arn is not None:
            observed["client_role"] = {
                "arn": self.client_role_arn,
                "exists": self.client_role_found,
            }
        return {**self.report.to_dict(), "exit_code": self.exit_code, "observed": observed}


def exit_code_for(report: AuditReport) -> int:
    """The exit code of ``report``'s worst severity.

    Returns:
        0 (nothing above info), 3 low, 4 medium, 5 high, 6 critical.
    """
    return EXIT_CODES[report.worst]


def run_audit(
    aws: CustomerAws,
    vendor: VendorIdentity,
    *,
    tenant: str,
    mode: str,
    key_arn: str,
    client_role_arn: str | None = None,
    external_id: str | None = None,
    expected_region: str = "us-east-1",
    admins: Iterable[str] = (),
    offboarded: bool = False,
) -> CustomerAuditResult:
    """Audit the customer's live set-up.

    Args:
        aws: the customer's AWS access (read-only calls).
        vendor: the vendor's account and role names.
        tenant, mode, key_arn: as handed to the vendor.
        client_role_arn, external_id: Option B, as handed to the vendor.
        expected_region: the region the vendor accepts keys in.
        admins: key administrators besides those of the key policy's administrators statement.
        offboarded: the vendor offboarded the tenant: report only what still lets the vendor
            use the key (statements, grants, trust, an enabled key:
            :mod:`byok.customer.offboarded`).

    Returns:
        The :class:`CustomerAuditResult`.

    Raises:
        InvalidInput: a malformed ARN, External ID or stored policy.
        ConfigurationError: the client role is not in the credentials' account.
        CustomerAccessError: the key cannot be described or its policy read (fix included).
        TransientKmsError: AWS throttled or failed after retries.
    """
    key = parse_key_arn(key_arn)
    facts, policy = read_key(aws, key.arn)
    trails = read_trails(aws, key.region)
    found = [
        *key_findings(facts, expected_region=expected_region),
        *trail_findings(trails, key.region),
    ]
    trust: Any = None
    permissions: list[Any] = []
    role: Mapping[str, Any] | None = None
    grants = read_grants(aws, key.arn)
    found += grant_findings(grants, vendor.account, client_role_arn)
    if mode == "assume-role" and client_role_arn is not None:
        role, permissions = _read_role(aws, client_role_arn)
        found += role_findings(client_role_arn, role)
        trust = _NOBODY if role is None else _document(role.get("AssumeRolePolicyDocument"))
        if role is not None and external_id is not None:
            found += external_id_findings(trust, external_id)
    report = audit_policies(
        vendor,
        tenant=tenant,
        mode=mode,
        key_arn=key.arn,
        key_policy=policy,
        trust_policy=trust,
        permissions_policies=permissions,
        client_role_arn=client_role_arn,
        external_id=external_id,
        admins={*admins, *_admins_in(policy)},
    )
    merged = sorted([*report.findings, *found], key=lambda f: (-f.severity, f.code, f.evidence))
    if offboarded:  # the question is no longer "can the vendor work" but "is it locked out"
        merged = offboarded_findings(
            vendor.account, key_state=facts.state, key_policy=policy, grants=grants,
            trust_policy=trust if role is not None else None,
        )  # fmt: skip
    return CustomerAuditResult(
        AuditReport(tuple(merged)),
        facts,
        trails,
        client_role_arn,
        None if client_role_arn is None else role is not None,
    )


def read_key(aws: CustomerAws, key_arn: str) -> tuple[KeyFacts, dict[str, Any]]:
    """Describe the key, its rotation status and its policy.

    Returns:
        The :class:`KeyFacts` and the key policy as a JSON object.

    Raises:
        KeyNotFound, KeyAccessDenied: the key cannot be described or its policy read.
    """
    region = parse_key_arn(key_arn).region
    meta = aws.call("kms", "DescribeKey", region=region, KeyId=key_arn)["KeyMetadata"]
    status = aws.call(
        "kms",
        "GetKeyRotationStatus",
        region=region,
        KeyId=key_arn,
        missing=("AccessDeniedException", "UnsupportedOperationException"),
    )
    policy = aws.call("kms", "GetKeyPolicy", region=region, KeyId=key_arn, PolicyName="default")[
        "Policy"
    ]
    facts = KeyFacts(
        arn=str(meta["Arn"]),
        region=region,
        state=str(meta.get("KeyState", "")),
        spec=str(meta.get("KeySpec") or meta.get("CustomerMasterKeySpec") or ""),
        usage=str(meta.get("KeyUsage") or "ENCRYPT_DECRYPT"),
        manager=str(meta.get("KeyManager", "")),
        origin=str(meta.get("Origin", "")),
        multi_region=bool(meta.get("MultiRegion")),
        rotation=None if status is None else bool(status.get("KeyRotationEnabled")),
    )
    # KeyUsage defaults to ENCRYPT_DECRYPT (CreateKey); moto omits it when it was not given.
    return facts, _document(policy)


def read_grants(aws: CustomerAws, key_arn: str) -> list[dict[str, Any]] | None:
    """Every grant on the key (``kms:ListGrants``, all pages), or None if it was refused."""
    region = parse_key_arn(key_arn).region
    grants: list[dict[str, Any]] = []
    marker: dict[str, str] = {}
    while True:
        page = aws.call(
            "kms",
            "ListGrants",
            region=region,
            KeyId=key_arn,
            missing=("AccessDeniedException",),
            **marker,
        )
        if page is None:
            return None
        grants.extend(dict(g) for g in page.get("Grants") or ())
        if not page.get("Truncated") or not page.get("NextMarker"):
            return grants
        marker = {"Marker": str(page["NextMarker"])}


def read_trails(aws: CustomerAws, region: str) -> TrailFacts:
    """Which CloudTrail trails log the KMS calls made in ``region``.

    A refused or unsupported call makes the answer "unknown" (``readable=False``), never an
    error: the audit reports what it could not check.

    Returns:
        The :class:`TrailFacts`.

    Raises:
        TransientKmsError: AWS throttled or failed after retries.
    """
    try:
        listed = aws.call("cloudtrail", "DescribeTrails", region=region, includeShadowTrails=True)[
            "trailList"
        ]
        logging: list[str] = []
        idle: list[str] = []
        for trail in listed:
            reason = _trail_gap(aws, trail, region)
            (idle if reason else logging).append(f"{trail.get('Name')}{reason}")
    except TransientKmsError:
        raise
    except ByokError as exc:
        return TrailFacts(False, evidence=f"{exc.operation}: {exc.message}")
    return TrailFacts(True, tuple(logging), tuple(idle))


def _trail_gap(aws: CustomerAws, trail: Mapping[str, Any], region: str) -> str:
    """Why ``trail`` does not log the key's use ("" if it does)."""
    home = str(trail.get("HomeRegion") or region)
    if not trail.get("IsMultiRegionTrail") and home != region:
        return f": a single-Region trail of {home}"
    arn = str(trail.get("TrailARN") or trail.get("Name"))
    status = aws.call("cloudtrail", "GetTrailStatus", region=home, Name=arn)
    if not status.get("IsLogging"):
        return ": not logging"
    selectors = aws.call("cloudtrail", "GetEventSelectors", region=home, TrailName=arn)
    if not selectors_cover_kms(
        selectors.get("EventSelectors") or (), selectors.get("AdvancedEventSelectors") or ()
    ):
        return ": its event selectors skip KMS's read-only management events"
    return ""


def _read_role(aws: CustomerAws, role_arn: str) -> tuple[dict[str, Any] | None, list[Any]]:
    role = parse_role_arn(role_arn, field="client_role_arn")
    if role.account != aws.account_id():
        raise ConfigurationError(
            f"the client role is in account {role.account}, the credentials in {aws.account_id()}",
            fix="Run the audit with credentials of the role's account.",
        )
    found = aws.call("iam", "GetRole", RoleName=role.name, missing=("NoSuchEntity",))
    if found is None:
        return None, []
    policies = [
        _document(
            aws.call("iam", "GetRolePolicy", RoleName=role.name, PolicyName=name)["PolicyDocument"]
        )
        for name in aws.call("iam", "ListRolePolicies", RoleName=role.name, MaxItems=1000)[
            "PolicyNames"
        ]
    ]
    attached = aws.call("iam", "ListAttachedRolePolicies", RoleName=role.name, MaxItems=1000)
    for item in attached["AttachedPolicies"]:
        arn = item["PolicyArn"]
        version = aws.call("iam", "GetPolicy", PolicyArn=arn, resource=arn)["Policy"]
        document = aws.call(
            "iam",
            "GetPolicyVersion",
            PolicyArn=arn,
            resource=arn,
            VersionId=version["DefaultVersionId"],
        )["PolicyVersion"]["Document"]
        policies.append(_document(document))
    return dict(found["Role"]), policies


def _admins_in(policy: Mapping[str, Any]) -> set[str]:
    """The principals of the key policy's key-administrators statement."""
    body = policy.get("Statement")
    for statement in [body] if isinstance(body, dict) else (body or []):
        if isinstance(statement, dict) and statement.get("Sid") == SID_ADMINS:
            principal = statement.get("Principal")
            named = principal.get("AWS") if isinstance(principal, dict) else None
            return {named} if isinstance(named, str) else {str(a) for a in named or ()}
    return set()


def _document(value: Any) -> dict[str, Any]:
    """A policy from AWS as a JSON object (IAM may answer URL-encoded text)."""
    if isinstance(value, Mapping):
        return dict(value)
    text = str(value)
    for candidate in (text, unquote(text)):
        try:
            decoded = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(decoded, dict):
            return decoded
    raise InvalidInput(
        "policy",
        "AWS returned a policy that is not a JSON object",
        fix="Check the policy in the AWS console.",
    )
