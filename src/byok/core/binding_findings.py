"""Customer-audit checks of the tenant <-> key binding (pure; :mod:`byok.core.customer_audit`).

* ``not-limited-to-tenant`` (HIGH): the vendor may use the key under another tenant's
  encryption context. Then any other tenant of the vendor, or a stolen token of one, can point
  the vendor at this key (docs/SECURITY.md, threat model), and the vendor's verification
  refuses the key (check ``key_refuses_other_tenants``). The fix is the exact statements.
* ``vendor-role-mismatch`` (HIGH): the key policy names a role of the vendor's account that is
  not the role the vendor calls KMS as (for example the guide's ``customer-facing-role`` while
  byok calls as ``document-storage-role``): the vendor is refused at verification.

Both are answered by evaluating requests, like every other audit check
(:mod:`byok.core.setup_checks`).
"""

from __future__ import annotations

import json

from byok.core.context import TENANT_CONTEXT_KEY
from byok.core.policy.templates.policies import PolicyValues, key_user_statements
from byok.core.setup_checks import AuditSubject, Finding, Severity, key_user, kms_allows

__all__ = ["tenant_binding_findings", "vendor_role_findings"]


def tenant_binding_findings(audit: AuditSubject) -> list[Finding]:
    """The key must refuse the vendor under any other tenant's encryption context.

    Returns:
        ``not-limited-to-tenant`` with the exact statements to use, or nothing.
    """
    user = key_user(audit)
    other = audit.tenant + "-other"
    if not kms_allows(audit, user, "kms:Decrypt", audit.tenant):
        return []  # the vendor cannot use the key at all: vendor-cannot-use-key says so
    if not kms_allows(audit, user, "kms:Decrypt", other):
        return []
    return [
        Finding(
            "not-limited-to-tenant",
            Severity.HIGH,
            "The key is not limited to this tenant: another tenant could point the vendor at it",
            f"{user} may decrypt with {TENANT_CONTEXT_KEY}={other!r}, not only {audit.tenant!r}",
            _exact_fix(audit, user),
        )
    ]


def _exact_fix(audit: AuditSubject, user: str) -> str:
    account = user.split(":")[4]
    values = PolicyValues(key_user=user, caller_account=account, tenant=audit.tenant, root="")
    statements = key_user_statements(values, mode=audit.mode, hardening=True)
    text = json.dumps(statements, separators=(",", ":"))
    fix = (
        f"Replace the key-policy statement that allows {user} with these two (DescribeKey "
        f"carries no encryption context, so it has its own statement): {text}."
    )
    if audit.mode == "assume-role":
        fix += (
            f" Add the same {TENANT_CONTEXT_KEY} condition to the client role's permissions "
            "policy (an IAM policy in your account grants use on its own)."
        )
    return fix + " `byok customer setup` (without --unconditioned) writes exactly this."


def vendor_role_findings(audit: AuditSubject) -> list[Finding]:
    """Option A: the key policy must name the role the vendor calls KMS as.

    Returns:
        ``vendor-role-mismatch`` when the vendor's role is refused while another role of
        the vendor's account is allowed, else nothing.
    """
    if audit.mode != "direct":
        return []
    expected = audit.vendor.role_arn("direct")
    if kms_allows(audit, expected, "kms:Decrypt", audit.tenant):
        return []
    named = sorted(
        arn
        for statement in audit.key_policy.statements
        if statement.effect == "Allow" and statement.principal is not None
        for arn in statement.principal.arns
        if arn.split(":")[4] == audit.vendor.account and arn != expected
    )
    if not named:
        return []
    return [
        Finding(
            "vendor-role-mismatch",
            Severity.HIGH,
            "The key policy names a vendor role the vendor does not call KMS as",
            f"the key policy names {', '.join(named)}; the vendor calls KMS as {expected}",
            f"Name {expected} (the vendor_role_arn the vendor gave you) as the Principal of "
            "the vendor statement; `byok customer policy --vendor-role` takes its name.",
        )
    ]
