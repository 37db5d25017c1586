"""Findings about what only AWS can tell: the key's state and settings, the client role's
existence and External ID, and whether CloudTrail logs the key's use (pure).

The policy questions (can the vendor use the key, only with the five actions, is the External
ID required, wildcard principals, other accounts) are answered by
:mod:`byok.core.customer_audit`; this module adds what the AWS side of ``byok customer audit``
reads (:mod:`byok.customer.audit`). Both use :class:`~byok.core.customer_audit.Finding`.

========================  ========  ==========================================================
code                      severity  when
========================  ========  ==========================================================
key-pending-deletion      critical  the key is scheduled for deletion
key-disabled              high      the key is disabled (every use refused)
key-unsuitable            high      not SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT / customer managed
key-region                high      the key is not in the region the vendor accepts
key-multi-region          medium    a multi-Region key: replicas carry their own policies
rotation-off              medium    automatic rotation is off
rotation-unknown          info      the rotation status could not be read
key-origin-external       info      imported key material (it may expire)
client-role-missing       high      Option B: the client role does not exist
external-id-mismatch      high      the trust policy's External ID is not the vendor's
role-session-long         info      the client role allows sessions over one hour
cloudtrail-not-logging    medium    no trail logs the key's region's read management events
cloudtrail-unknown        info      the trails could not be read
grant-to-vendor           medium    a grant names the vendor (byok.customer.grant_checks)
grants-unknown            info      the key's grants could not be listed
========================  ========  ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from byok.core.customer_audit import Finding, Severity

__all__ = [
    "KeyFacts",
    "TrailFacts",
    "external_id_findings",
    "key_findings",
    "role_findings",
    "selectors_cover_kms",
    "trail_findings",
    "trust_external_ids",
]

_CHAIN_LIMIT_S: Final = 3600
_ROTATE_FIX = "Switch on automatic rotation (kms:EnableKeyRotation, or `byok customer setup`)."


@dataclass(frozen=True)
class KeyFacts:
    """What ``kms:DescribeKey`` and ``kms:GetKeyRotationStatus`` said about the key."""

    arn: str
    region: str
    state: str
    spec: str
    usage: str
    manager: str
    origin: str
    multi_region: bool
    rotation: bool | None  # None: could not be read

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "arn": self.arn,
            "region": self.region,
            "state": self.state,
            "spec": self.spec,
            "usage": self.usage,
            "manager": self.manager,
            "origin": self.origin,
            "multi_region": self.multi_region,
            "rotation": self.rotation,
        }


@dataclass(frozen=True)
class TrailFacts:
    """CloudTrail's trails as seen from the key's region.

    Attributes:
        readable: False if the trails could not be read (then ``evidence`` says why).
        logging: names of trails that are logging and cover the key's use.
        idle: trails that exist but do not cover it, with the reason.
        evidence: why the trails could not be read.
    """

    readable: bool
    logging: tuple[str, ...] = ()
    idle: tuple[str, ...] = ()
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: ``status`` is ``logging``, ``not logging`` or ``unknown``."""
        status = "unknown" if not self.readable else "logging" if self.logging else "not logging"
        return {
            "status": status,
            "logging": list(self.logging),
            "idle": list(self.idle),
            "evidence": self.evidence,
        }


def key_findings(key: KeyFacts, *, expected_region: str) -> list[Finding]:
    """Findings about the key's state, spec, usage, region, rotation and origin.

    Returns:
        Zero or more findings.
    """
    found: list[Finding] = []
    if key.state in ("PendingDeletion", "PendingReplicaDeletion"):
        found.append(
            Finding(
                "key-pending-deletion",
                Severity.CRITICAL,
                "The key is scheduled for deletion: the documents will be lost",
                f"{key.arn} is {key.state}",
                "Cancel it now (kms:CancelKeyDeletion), then enable the key.",
            )
        )
    elif key.state != "Enabled":
        found.append(
            Finding(
                "key-disabled",
                Severity.HIGH,
                "The key is not enabled: the vendor cannot read or write documents",
                f"{key.arn} is {key.state}",
                "Enable the key (kms:EnableKey) unless you meant to revoke access.",
            )
        )
    wrong = [
        f"{name} {value}"
        for name, value, wanted in (
            ("KeySpec", key.spec, "SYMMETRIC_DEFAULT"),
            ("KeyUsage", key.usage, "ENCRYPT_DECRYPT"),
            ("KeyManager", key.manager, "CUSTOMER"),
        )
        if value != wanted
    ]
    if wrong:
        found.append(
            Finding(
                "key-unsuitable",
                Severity.HIGH,
                "The key cannot be used for byok",
                f"{key.arn} has {', '.join(wrong)}",
                "Use a customer managed symmetric ENCRYPT_DECRYPT key "
                "(`byok customer setup` creates one).",
            )
        )
    if key.region != expected_region:
        found.append(
            Finding(
                "key-region",
                Severity.HIGH,
                f"The key is not in {expected_region}, where the vendor expects it",
                f"{key.arn} is in {key.region}",
                f"Create the key in {expected_region} (`byok customer setup "
                f"--region {expected_region}`), or agree the region with the "
                "vendor first.",
            )
        )
    found += _settings_findings(key)
    return found


def _settings_findings(key: KeyFacts) -> list[Finding]:
    found: list[Finding] = []
    if key.multi_region:
        found.append(
            Finding(
                "key-multi-region",
                Severity.MEDIUM,
                "The key is multi-Region",
                f"{key.arn} is a multi-Region key; each replica has its own key policy",
                "Prefer a single-Region key, or audit every replica's policy too.",
            )
        )
    if key.rotation is False:
        found.append(
            Finding(
                "rotation-off",
                Severity.MEDIUM,
                "Automatic key rotation is off",
                f"kms:GetKeyRotationStatus of {key.arn}: KeyRotationEnabled false",
                _ROTATE_FIX,
            )
        )
    elif key.rotation is None:
        found.append(
            Finding(
                "rotation-unknown",
                Severity.INFO,
                "The rotation status could not be read",
                f"kms:GetKeyRotationStatus of {key.arn} was refused",
                "Run the audit as a key administrator.",
            )
        )
    if key.origin == "EXTERNAL":
        found.append(
            Finding(
                "key-origin-external",
                Severity.INFO,
                "The key material is imported",
                f"{key.arn} has Origin EXTERNAL",
                "Watch the key material's expiry; KMS cannot rotate it.",
            )
        )
    return found


def role_findings(role_arn: str, role: Mapping[str, Any] | None) -> list[Finding]:
    """Findings about the client role itself (``iam:GetRole``'s ``Role``, None if absent).

    Returns:
        Zero or more findings.
    """
    if role is None:
        return [
            Finding(
                "client-role-missing",
                Severity.HIGH,
                "The client role does not exist: the vendor cannot reach the key",
                f"iam:GetRole {role_arn}: NoSuchEntity",
                "Create it (`byok customer setup --mode assume-role`).",
            )
        ]
    duration = int(role.get("MaxSessionDuration") or _CHAIN_LIMIT_S)
    if duration <= _CHAIN_LIMIT_S:
        return []
    return [
        Finding(
            "role-session-long",
            Severity.INFO,
            "The client role allows sessions longer than one hour",
            f"{role_arn} MaxSessionDuration is {duration} s (chained sessions last "
            "at most 3600 s anyway)",
            "Set MaxSessionDuration to 3600.",
        )
    ]


def trust_external_ids(trust: Mapping[str, Any]) -> list[str]:
    """Every value the trust policy compares ``sts:ExternalId`` with, in Allow statements.

    Returns:
        The values in document order (any operator; key names are case-insensitive).
    """
    values: list[str] = []
    body = trust.get("Statement")
    for statement in [body] if isinstance(body, dict) else (body or []):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        for operands in (statement.get("Condition") or {}).values():
            if not isinstance(operands, dict):
                continue
            for key, value in operands.items():
                if str(key).lower() == "sts:externalid":
                    values.extend([value] if isinstance(value, str) else map(str, value))
    return values


def external_id_findings(trust: Mapping[str, Any], expected: str) -> list[Finding]:
    """A finding if the trust policy names External IDs but none is the vendor's (a typo).

    The evidence says where the closest one differs, never the values themselves.

    Returns:
        Zero or one finding.
    """
    values = trust_external_ids(trust)
    if not values or expected in values:
        return []
    closest = max(values, key=lambda v: _common_prefix(v, expected))
    at = _common_prefix(closest, expected) + 1
    return [
        Finding(
            "external-id-mismatch",
            Severity.HIGH,
            "The trust policy's External ID is not the one the vendor gave",
            f"{len(values)} External ID value(s) in the trust policy; the closest "
            f"differs from the vendor's at character {at} (lengths {len(closest)} "
            f"and {len(expected)})",
            "Copy the External ID exactly as the vendor shows it into the "
            "StringEquals sts:ExternalId condition (`byok customer setup` does).",
        )
    ]


def trail_findings(trails: TrailFacts, region: str) -> list[Finding]:
    """Whether KMS calls on the key are being logged.

    Returns:
        Zero or one finding.
    """
    if not trails.readable:
        return [
            Finding(
                "cloudtrail-unknown",
                Severity.INFO,
                "Whether CloudTrail logs the key's use is unknown",
                trails.evidence,
                "Run the audit with cloudtrail:DescribeTrails and "
                "cloudtrail:GetTrailStatus, or check the trails yourself.",
            )
        ]
    if trails.logging:
        return []
    idle = "; ".join(trails.idle) if trails.idle else "no trail"
    return [
        Finding(
            "cloudtrail-not-logging",
            Severity.MEDIUM,
            "No CloudTrail trail records the use of the key",
            f"in {region}: {idle}",
            f"Create a trail that logs management events (read and write) in "
            f"{region}, or a multi-Region trail, and start logging.",
        )
    ]


def selectors_cover_kms(
    selectors: Sequence[Mapping[str, Any]], advanced: Sequence[Mapping[str, Any]]
) -> bool:
    """True if a trail's event selectors record KMS's read-only management events.

    KMS Encrypt/Decrypt/GenerateDataKey are *read-only* management events: a trail logging
    ``WriteOnly`` misses them, and ``ExcludeManagementEventSources`` may drop
    ``kms.amazonaws.com``. No selectors at all is CloudTrail's default: all management events.
    Advanced selectors are taken as covering KMS unless they exclude it explicitly.

    Returns:
        Whether the key's use is recorded.
    """
    if advanced:
        return not any(_excludes_kms(s.get("FieldSelectors") or ()) for s in advanced)
    if not selectors:
        return True
    return any(
        s.get("IncludeManagementEvents", True)
        and s.get("ReadWriteType", "All") in ("All", "ReadOnly")
        and "kms.amazonaws.com" not in (s.get("ExcludeManagementEventSources") or ())
        for s in selectors
    )


def _excludes_kms(fields: Iterable[Mapping[str, Any]]) -> bool:
    for field in fields:
        if field.get("Field") == "eventSource" and "kms.amazonaws.com" in (
            field.get("NotEquals") or ()
        ):
            return True
        if field.get("Field") == "readOnly" and "true" not in (field.get("Equals") or ("true",)):
            return True
    return False


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
