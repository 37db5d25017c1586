"""A tenant's scopes and period unit: which tenant key (and KMS context) a document uses.

The vendor defines scopes per tenant as document-name prefixes (``legal/`` → ``legal``); a
document belongs to the scope of its longest matching prefix, else to ``default``. The period
unit (month, day or hour, UTC) says how finely its keys are cut in time. Both reach the
customer's CloudTrail as ``byok:scope`` and ``byok:period``, where its key policy can refuse
one of them (docs/SECURITY.md#customer-levers). A change applies to new writes at once on
every node (within a second); documents already written keep their key, scope and period.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from byok.errors import InvalidInput
from byok.store.document_types import document_name
from byok.store.key_policies import TenantPolicy

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = ["configure_scopes", "parse_rule"]


def parse_rule(text: str) -> tuple[str, str]:
    """``PREFIX=SCOPE`` → ``(prefix, scope)``.

    Raises:
        InvalidInput: (field ``rule``) no ``=``, or a malformed prefix (the scope is checked
            with the whole policy).
    """
    prefix, sep, scope = text.rpartition("=")
    if not sep or not prefix:
        raise InvalidInput(
            "rule", f"{text!r:.60} is not PREFIX=SCOPE", fix="For example: --rule legal/=legal"
        )
    return document_name(prefix, field="rule"), scope


def configure_scopes(
    vendor: Vendor,
    tenant: str,
    *,
    rules: Sequence[tuple[str, str]] | None = None,
    period_unit: str | None = None,
) -> TenantPolicy:
    """Replace the tenant's scope rules and/or period unit (None: keep); audited.

    Returns:
        The tenant's policy after the change.

    Raises:
        InvalidInput: a malformed rule, scope or unit (named). NotFound: no such tenant.
    """
    vendor.tenants.get(tenant)
    changes: dict[str, object] = {}
    if rules is not None:
        changes["scope_rules"] = tuple((prefix, scope) for prefix, scope in rules)
    if period_unit is not None:
        changes["period_unit"] = period_unit
    policy = vendor.policies.update(tenant, **changes) if changes else vendor.policies.get(tenant)
    if changes:
        vendor.audit.record(
            "tenant:scopes", tenant=tenant,
            detail={"scope_rules": [list(r) for r in policy.scope_rules],
                    "period_unit": policy.period_unit},
        )  # fmt: skip
        vendor.forget_state(tenant)
    return policy
