"""Findings about the key's KMS grants (pure): ``byok customer audit`` lists grants to the vendor.

AWS authorizes KMS with the key policy, IAM policies *and* grants (AWS KMS Developer Guide,
"Grants in AWS KMS"). A grant to the vendor keeps working after the key policy stops naming the
vendor, so revoking access by editing the key policy is incomplete until the grant is revoked;
byok itself never needs a grant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from byok.core.customer_audit import Finding, Severity

__all__ = ["grant_findings"]


def grant_findings(
    grants: Sequence[Mapping[str, Any]] | None, vendor_account: str, client_role_arn: str | None
) -> list[Finding]:
    """Findings about the key's grants (``kms:ListGrants``; None if they could not be listed).

    AWS authorizes KMS with the key policy, IAM policies *and* grants: a grant to the vendor
    keeps working after the key policy stops naming it, so revoking by editing the key policy
    is incomplete until the grant is revoked (byok itself never needs a grant).

    Returns:
        One ``grant-to-vendor`` finding per grant naming the vendor's account (or the client
        role), or ``grants-unknown``.
    """
    if grants is None:
        return [
            Finding(
                "grants-unknown",
                Severity.INFO,
                "The key's grants could not be listed",
                "kms:ListGrants was refused",
                "Allow kms:ListGrants to the auditing identity to check for grants.",
            )
        ]
    found = []
    for grant in grants:
        names = [str(grant.get(k) or "") for k in ("GranteePrincipal", "RetiringPrincipal")]
        if not any(_is_vendor(n, vendor_account, client_role_arn) for n in names):
            continue
        operations = ",".join(str(o) for o in grant.get("Operations") or ())
        found.append(
            Finding(
                "grant-to-vendor",
                Severity.MEDIUM,
                "A KMS grant lets the vendor use the key outside the key policy",
                f"grant {grant.get('GrantId')} to {names[0]} for {operations}"
                f" constraints {grant.get('Constraints') or {}}",
                f"Revoke it (kms:RevokeGrant --grant-id {grant.get('GrantId')}); editing the "
                "key policy does not remove grants.",
            )
        )
    return found


def _is_vendor(principal: str, vendor_account: str, client_role_arn: str | None) -> bool:
    parts = principal.split(":")
    if len(parts) >= 6 and parts[4] == vendor_account:
        return True
    return client_role_arn is not None and principal.lower() == client_role_arn.lower()
