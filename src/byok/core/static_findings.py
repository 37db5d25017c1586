"""Customer-audit checks read from the policy text (pure; :mod:`byok.core.customer_audit`).

Evaluation answers "who may do what" (:mod:`byok.core.setup_checks`); these checks flag Allow
statements whose *shape* is risky whatever a request looks like:

* ``not-principal-allow`` (HIGH): an Allow with NotPrincipal grants every principal not listed;
* ``wildcard-principal`` (CRITICAL): ``Principal: "*"``;
* ``foreign-account`` (HIGH): a principal of an account other than the customer's and the
  vendor's;
* ``kms-star-non-admin`` (HIGH) / ``kms-star-admin`` (LOW): ``kms:*`` (or NotAction) granted to
  someone other than the account root.
"""

from __future__ import annotations

from typing import Any

from byok.core.policy.wildcard import wildcard_match
from byok.core.setup_checks import AuditSubject, Finding, Severity

__all__ = ["static_findings"]


def static_findings(audit: AuditSubject) -> list[Finding]:
    """See the module docstring.

    Returns:
        The findings of this check (possibly none).
    """
    findings: list[Finding] = []
    docs = [("key policy", audit.key_policy)]
    if audit.trust is not None:
        docs.append(("trust policy", audit.trust))
    known = {audit.customer, audit.vendor.account}
    for name, doc in docs:
        for st in doc.statements:
            if st.effect != "Allow":
                continue
            where = f"{name} statement {st.label!r}"
            findings += _principal_findings(where, st.principal, st.not_principal, known)
            if name == "key policy":
                findings += _kms_star_findings(audit, where, st.action, st.not_action, st.principal)
    return findings


def _principal_findings(
    where: str, principal: Any, not_principal: Any, known: set[str]
) -> list[Finding]:
    if not_principal is not None:
        return [
            Finding(
                "not-principal-allow",
                Severity.HIGH,
                "An Allow with NotPrincipal grants every principal not listed",
                f"{where} uses NotPrincipal",
                "Name the allowed principals instead.",
            )
        ]
    if principal is None:
        return []
    if principal.wildcard:
        return [
            Finding(
                "wildcard-principal",
                Severity.CRITICAL,
                "A statement allows every AWS principal",
                f'{where} has Principal "*"',
                "Name exact principals: your account root, administrators, the vendor "
                "role (A) or your client role (B).",
            )
        ]
    accounts = set(principal.accounts) | {a.split(":")[4] for a in principal.arns}
    foreign = sorted(accounts - known)
    if not foreign:
        return []
    return [
        Finding(
            "foreign-account",
            Severity.HIGH,
            "A statement names an account other than yours and the vendor's",
            f"{where} names account(s) {', '.join(foreign)}",
            "Remove principals of other accounts unless you know why they are there.",
        )
    ]


def _kms_star_findings(
    audit: AuditSubject, where: str, action: Any, not_action: Any, principal: Any
) -> list[Finding]:
    broad = not_action is not None or any(
        wildcard_match(p, "kms:*", ignore_case=True) for p in action or ()
    )
    if not broad or principal is None or principal.wildcard:
        return []
    named = [a for a in principal.arns if a not in audit.admins]
    admins = [a for a in principal.arns if a in audit.admins]
    foreign_roots = sorted(a for a in principal.accounts if a != audit.customer)
    findings = []
    if named or foreign_roots:
        who = ", ".join([*named, *foreign_roots])
        findings.append(
            Finding(
                "kms-star-non-admin",
                Severity.HIGH,
                "kms:* (or NotAction) is granted to a non-administrator",
                f"{where} grants {who} every KMS action",
                "Grant the vendor or client role only the five actions and "
                "administrators only management actions.",
            )
        )
    if admins:
        findings.append(
            Finding(
                "kms-star-admin",
                Severity.LOW,
                "A key administrator may also encrypt and decrypt",
                f"{where} grants {', '.join(admins)} every KMS action",
                "Give administrators the management actions only.",
            )
        )
    return findings
