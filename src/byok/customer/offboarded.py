"""Findings for a key whose tenant the vendor offboarded: does the vendor still have access?

``byok customer audit --offboarded`` (docs/CUSTOMER.md, docs/SECURITY.md#offboarding-and-backups).
Offboarding destroys what the vendor holds (wrapped tenant keys and the tenant's vendor key),
but only the customer can take back what its key still grants the vendor. So after offboarding
every remaining path is a finding:

* ``OFFBOARDED_VENDOR_STATEMENT`` (HIGH): a key policy statement that allows a principal of the
  vendor's account;
* ``OFFBOARDED_VENDOR_GRANT`` (HIGH): a KMS grant to a principal of the vendor's account;
* ``OFFBOARDED_VENDOR_TRUST`` (HIGH): Option B, the client role still trusts the vendor;
* ``OFFBOARDED_KEY_ENABLED`` (MEDIUM): the key is still enabled (disable it or schedule its
  deletion: that also ends every copy made before offboarding, backups included);
* ``OFFBOARDED_KEY_RETIRED`` (INFO): the key is disabled or pending deletion.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from byok.core.customer_audit import Finding, Severity

__all__ = ["offboarded_findings"]


def offboarded_findings(
    vendor_account: str,
    *,
    key_state: str,
    key_policy: Mapping[str, Any],
    grants: Sequence[Mapping[str, Any]] | None,
    trust_policy: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """What still lets the vendor use the key (or a copy made before offboarding).

    Args:
        vendor_account: the vendor's AWS account id.
        key_state: ``KeyState`` from DescribeKey.
        key_policy: the key policy.
        grants: the key's grants (ListGrants), or None if they could not be read.
        trust_policy: Option B, the client role's trust policy.

    Returns:
        The findings (empty lists never: the key's state is always reported).
    """
    found: list[Finding] = []
    for sid in _allowing(key_policy, vendor_account):
        found.append(Finding(
            "OFFBOARDED_VENDOR_STATEMENT", Severity.HIGH,
            "The key policy still allows the offboarded vendor", f"statement {sid}",
            "Remove the statement (or disable the key / schedule its deletion).",
        ))  # fmt: skip
    if grants is None:
        found.append(Finding(
            "OFFBOARDED_GRANTS_UNKNOWN", Severity.LOW, "The key's grants could not be read",
            "kms:ListGrants was refused", "Allow kms:ListGrants to the auditing identity.",
        ))  # fmt: skip
    for grant in grants or ():
        if _names(grant.get("GranteePrincipal"), vendor_account):
            found.append(Finding(
                "OFFBOARDED_VENDOR_GRANT", Severity.HIGH,
                "A KMS grant still lets the offboarded vendor use the key",
                f"grant {grant.get('GrantId', '?')} to {grant.get('GranteePrincipal')}",
                "Revoke the grant: aws kms revoke-grant --key-id KEY --grant-id ID.",
            ))  # fmt: skip
    if trust_policy is not None:
        for sid in _allowing(trust_policy, vendor_account):
            found.append(Finding(
                "OFFBOARDED_VENDOR_TRUST", Severity.HIGH,
                "The client role still trusts the offboarded vendor", f"trust statement {sid}",
                "Delete the client role or remove the vendor from its trust policy.",
            ))  # fmt: skip
    if key_state == "Enabled":
        found.append(Finding(
            "OFFBOARDED_KEY_ENABLED", Severity.MEDIUM, "The key is still enabled",
            "KeyState Enabled", "Disable the key or schedule its deletion: that also ends "
            "every copy of the vendor's data made before offboarding (backups included).",
        ))  # fmt: skip
    else:
        found.append(Finding(
            "OFFBOARDED_KEY_RETIRED", Severity.INFO, "The key no longer decrypts anything",
            f"KeyState {key_state}", "Nothing to do.",
        ))  # fmt: skip
    return found


def _allowing(policy: Mapping[str, Any], account: str) -> Iterator[str]:
    statements = policy.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    for index, statement in enumerate(statements):
        if (
            isinstance(statement, Mapping)
            and statement.get("Effect") == "Allow"
            and _names(statement.get("Principal"), account)
        ):
            yield str(statement.get("Sid") or f"#{index}")


def _names(principal: Any, account: str) -> bool:
    """Whether a Principal element (or grantee ARN) names a principal of ``account``."""
    if isinstance(principal, str):
        return principal == account or f":{account}:" in principal or principal == "*"
    if isinstance(principal, Mapping):
        return any(_names(value, account) for value in principal.values())
    if isinstance(principal, list):
        return any(_names(value, account) for value in principal)
    return False
