"""Whether the vendor may use a tenant's key: the tenant's state and the uses it refuses.

Two kinds of "no":

* **The key as a whole** (disabled, scheduled for deletion, policy or role gone): a
  :class:`~byok.errors.CustomerAccessError`. The tenant's cached keys are purged at once, the
  tenant becomes ``KEY_UNAVAILABLE`` with the reason, and the first operation (or key-monitor
  probe) that succeeds again returns it to ``ACTIVE``: no operator action is needed.
* **One use** (a scope, a period or an access reason the customer's key policy denies:
  docs/SECURITY.md#customer-levers): a :class:`~byok.errors.UseRefused`. The tenant stays
  ``ACTIVE``; the refused use is listed on the tenant's policy (``refused``, with since when),
  audited as ``tenant:use-refused`` and re-probed by the key monitor, which lifts it
  (``tenant:use-allowed``) once the customer's policy allows it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from byok.aws.kms import KmsKeyWrapper
from byok.core.context import tenant_key_context
from byok.core.refusals import LEVER_KEYS, PROBE_TK, classify_refusal
from byok.errors import (
    ByokError,
    CustomerAccessError,
    KeyAccessDenied,
    KeyDisabled,
    KeyPendingDeletion,
    UseRefused,
)
from byok.store.schema import TenantState

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = ["KeyAvailability"]

_NAMES = {name: key for key, name in LEVER_KEYS.items()}


class KeyAvailability:
    """Tracks and probes one vendor's tenants' key access (see the module docstring)."""

    def __init__(self, vendor: Vendor) -> None:
        self._vendor = vendor

    @contextmanager
    def guard(self, tenant: str, operation: str, document: str | None) -> Iterator[None]:
        """Mark the tenant KEY_UNAVAILABLE on a "no access" error, list a refused use, and
        mark it ACTIVE again on success."""
        try:
            yield
        except CustomerAccessError as exc:
            self.mark_unavailable(tenant, exc)
            self._vendor.audit.record(
                operation, tenant=tenant, document=document, outcome=type(exc).__name__
            )
            raise
        except UseRefused as exc:
            self.note_refused(tenant, exc, operation, document)
            raise
        self.mark_available(tenant)

    def probe_key(self, tenant: str, *, unwrap: bool = False) -> ByokError | None:
        """DescribeKey, and for an unavailable tenant (or ``unwrap``) a real unwrap, so
        access is proven; a refusal marks the tenant KEY_UNAVAILABLE, a success ACTIVE.
        Refused uses are probed again and lifted when the customer allows them.

        Returns:
            The error the probe met (None: access proven).
        """
        vendor = self._vendor
        try:
            wrapper = vendor.active_wrapper(tenant)
            with self.guard(tenant, "monitor:check-key", None):
                description = wrapper.describe_key()
                vendor.audit_kms(tenant, "kms:DescribeKey", description.request_id, "key monitor")
                description.ensure_usable(tenant)
                if description.key_state != "Enabled":
                    raise _state_error(description.key_state, tenant)
                if unwrap or vendor.tenants.get(tenant).state == TenantState.KEY_UNAVAILABLE:
                    self._probe_unwrap(tenant, wrapper)
            self._recheck_refused(tenant, wrapper)
        except ByokError as exc:
            return exc  # recorded by guard; the state says what happened
        return None

    def _probe_unwrap(self, tenant: str, wrapper: KmsKeyWrapper) -> None:
        """Prove decrypt access by unwrapping the current TK (the plaintext is dropped)."""
        vendor = self._vendor
        current = vendor.tenant_keys.current(tenant)
        if current is None:
            return
        context = current.context
        try:
            unwrapped = vendor.routing.reader(tenant, wrapper).unwrap(current.wrapped, context)
        except KeyAccessDenied:
            refused = classify_refusal(context, lambda c: wrapper.for_probing().encrypt(
                PROBE_TK.encode(), c))  # fmt: skip
            if refused is None:
                raise
            raise UseRefused(refused, tenant=tenant, operation="monitor:check-key") from None
        vendor.audit_kms(tenant, "kms:Decrypt", unwrapped.request_id, "key monitor")

    def _recheck_refused(self, tenant: str, wrapper: KmsKeyWrapper) -> None:
        """Probe each refused use again; lift the ones the customer's policy allows now."""
        vendor = self._vendor
        refused = vendor.policies.get(tenant).refused
        if not refused:
            return
        probe = wrapper.for_probing()
        still = []
        for entry in refused:
            context = tenant_key_context(tenant, PROBE_TK, scope="byok-probe", period="2000-01",
                                         reason="vendor-service")  # fmt: skip
            context[_NAMES[entry["dimension"]]] = entry["value"]
            try:
                probe.encrypt(PROBE_TK.encode(), context)
            except KeyAccessDenied:
                still.append(entry)
                continue
            vendor.audit.record(
                "tenant:use-allowed", tenant=tenant, detail={entry["dimension"]: entry["value"]}
            )
        if len(still) != len(refused):
            vendor.policies.update(tenant, refused=tuple(still))
            vendor.forget_state(tenant)

    def note_refused(
        self, tenant: str, exc: UseRefused, operation: str, document: str | None
    ) -> None:
        """List the refused use on the tenant's policy (once per value) and audit it."""
        vendor = self._vendor
        vendor.audit.record(
            "tenant:use-refused", tenant=tenant, document=document, outcome="UseRefused",
            detail={"operation": operation, **exc.refused},
        )  # fmt: skip
        since = datetime.now(UTC).isoformat(timespec="seconds")
        entries = [
            {"dimension": name, "value": value, "since": since}
            for name, value in sorted(exc.refused.items())
        ]
        if vendor.policies.add_refused(tenant, entries):
            vendor.forget_state(tenant)

    def mark_unavailable(self, tenant: str, exc: CustomerAccessError) -> None:
        """Purge the tenant's keys here; ACTIVE → KEY_UNAVAILABLE with the reason."""
        vendor = self._vendor
        vendor.envelope.purge_tenant(tenant)
        vendor.forget_state(tenant)
        if vendor.tenants.get(tenant).state == TenantState.ACTIVE:
            reason = f"{type(exc).__name__}: {exc.message}"
            vendor.tenants.transition(tenant, TenantState.KEY_UNAVAILABLE, detail=reason[:2000])
            vendor.audit.record("tenant:key-unavailable", tenant=tenant, outcome=type(exc).__name__)

    def mark_available(self, tenant: str) -> None:
        """KEY_UNAVAILABLE → ACTIVE (the hot path reads nothing when the tenant is ACTIVE)."""
        vendor = self._vendor
        if not vendor.serving_unavailable(tenant):
            return
        vendor.forget_state(tenant)
        if vendor.tenants.get(tenant).state == TenantState.KEY_UNAVAILABLE:
            vendor.tenants.transition(
                tenant, TenantState.ACTIVE, expected=TenantState.KEY_UNAVAILABLE
            )
            vendor.audit.record("tenant:key-available", tenant=tenant)


def _state_error(state: str, tenant: str) -> CustomerAccessError:
    if state == "PendingDeletion":
        return KeyPendingDeletion("the key is scheduled for deletion", tenant=tenant)
    return KeyDisabled(f"the key state is {state}", tenant=tenant)
