"""Restate tenant keys made before scopes and reasons: the same keys, wrapped again under a
KMS context that states ``byok:scope``, ``byok:period`` and ``byok:reason``.

A tenant key (TK) made before byok stated them unwraps only under its recorded, shorter
context, so a customer's strict key policy (``--require-context``) refuses every document
written under it, and a lever on a scope, period or reason cannot name it. This job re-wraps
each such TK (docs/SECURITY.md#customer-levers): one ``kms:Decrypt`` under its old context,
one ``kms:Encrypt`` under the new primary context (its recorded scope or ``default``, its
recorded period or the UTC month it was made, reason ``vendor-service``) and one for its
``customer-request`` copy, by the CMK that wraps its row. The row changes by compare-and-swap
(``byok.store.lifecycle.rewrap_in_place``): a concurrent migration or offboarding wins, and
the job can run again. Documents are untouched: their headers bind no scope or period and stay
readable (docs/FORMAT.md#bound-context). Run it before the customer turns on
``--require-context`` (the old context must still be allowed to unwrap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from byok.core.context import (
    DEFAULT_SCOPE,
    PERIOD_CONTEXT_KEY,
    REASON_CONTEXT_KEY,
    SCOPE_CONTEXT_KEY,
    month_period,
    tenant_key_context,
    with_reason,
)
from byok.core.key_use import CUSTOMER_REQUEST, VENDOR_SERVICE
from byok.errors import KeyAccessDenied
from byok.service.progress import QUIET, Progress
from byok.store.lifecycle import rewrap_in_place
from byok.store.tenant_keys import StoredTenantKey

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = ["RestateReport", "restate_tenant_keys"]

_PURPOSE = "restate key context"
_STRICT_FIX = (
    "The customer's key policy refuses the old context (strict --require-context?): ask the "
    "customer to turn it off, run `byok tenant restate-keys` again, then turn it back on."
)


@dataclass(frozen=True)
class RestateReport:
    """What :func:`restate_tenant_keys` did.

    Attributes:
        tenant: the tenant.
        restated: TK ids re-wrapped under a context that states scope, period and reason.
        already: how many TKs stated them already.
        lost_races: TKs whose row changed meanwhile (run again).
    """

    tenant: str
    restated: tuple[str, ...]
    already: int
    lost_races: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"tenant": self.tenant, "restated": list(self.restated), "already": self.already,
                "lost_races": self.lost_races}  # fmt: skip


def restate_tenant_keys(
    vendor: Vendor, tenant: str, *, progress: Progress = QUIET
) -> RestateReport:
    """Re-wrap every TK of ``tenant`` that states no reason (see the module docstring).

    Returns:
        A :class:`RestateReport`; the tenant's cached keys are dropped on every node.

    Raises:
        NotFound, StateError: no such tenant, or it has no active configuration.
        KeyAccessDenied: the customer's policy refuses the old context (with the fix).
        CustomerAccessError, TransientKmsError: the key is unavailable; nothing half-done
            stays (each row changes whole or not at all).
    """
    vendor.active_wrapper(tenant)  # a serving tenant with an active configuration
    keys = vendor.tenant_keys.list(tenant)
    todo = [key for key in keys if REASON_CONTEXT_KEY not in key.context]
    restated: list[str] = []
    lost = 0
    progress.start(f"restating {tenant}'s tenant keys", len(todo))
    try:
        for key in todo:
            if _restate(vendor, key):
                restated.append(key.tk_id)
            else:
                lost += 1
            progress.advance()
    finally:
        progress.stop()
        if restated:
            vendor.purge_everywhere(tenant)
    vendor.audit.record(
        "tenant:restate-keys", tenant=tenant,
        detail={"restated": len(restated), "already": len(keys) - len(todo), "lost_races": lost},
    )  # fmt: skip
    return RestateReport(tenant, tuple(restated), len(keys) - len(todo), lost)


def _restate(vendor: Vendor, key: StoredTenantKey) -> bool:
    """Re-wrap one TK under its new contexts and swap its row; False if the row changed."""
    old = key.context
    new = tenant_key_context(
        key.tenant, key.tk_id, scope=old.get(SCOPE_CONTEXT_KEY, DEFAULT_SCOPE),
        period=old.get(PERIOD_CONTEXT_KEY, month_period(key.created_at.timestamp())),
        reason=VENDOR_SERVICE,
    )  # fmt: skip
    wrapper = vendor.routing.wrapper_for_key(key)
    try:
        plain = wrapper.unwrap(key.wrapped, old)
    except KeyAccessDenied as error:
        raise KeyAccessDenied(error.message, tenant=key.tenant, operation="tk:restate",
                              fix=_STRICT_FIX) from None  # fmt: skip
    _audit(vendor, key, "kms:Decrypt", plain.request_id, old)
    primary = wrapper.encrypt(plain.plaintext, new)
    _audit(vendor, key, "kms:Encrypt", primary.request_id, new)
    copy_context = with_reason(new, CUSTOMER_REQUEST)
    copy = wrapper.encrypt(plain.plaintext, copy_context)
    _audit(vendor, key, "kms:Encrypt", copy.request_id, copy_context)
    stored, seal = vendor.tenant_keys.seal(key.tenant, key.tk_id, primary.wrapped)
    if not rewrap_in_place(
        vendor.store, key, wrapped=stored, key_arn=key.key_arn,
        key_config_version=key.key_config_version, seal=seal, kms_context=new,
    ):  # fmt: skip
        return False
    vendor.tenant_keys.add_copy(
        key.tenant, key.tk_id, CUSTOMER_REQUEST, wrapped=copy.wrapped, key_arn=key.key_arn,
        key_config_version=key.key_config_version,
    )  # fmt: skip
    return True


def _audit(
    vendor: Vendor, key: StoredTenantKey, operation: str, request_id: str | None,
    context: dict[str, str],
) -> None:  # fmt: skip
    vendor.audit.record(
        operation, tenant=key.tenant, tk_id=key.tk_id, kms_request_id=request_id,
        detail={"purpose": _PURPOSE, "encryption_context": context},
    )  # fmt: skip
