"""Key-loss policy: what happens while a tenant's key stays unavailable.

Per tenant (``byok.store.key_policies``), chosen by the customer's tenant-admin:

* **notify**: a signed webhook (``byok.service.notify``) at once when the tenant becomes
  ``KEY_UNAVAILABLE``, then every ``notify_every_s`` while it stays so, and once when it
  recovers;
* **after ``shred_after_s``**: ``keep`` the wrapped keys (default: the customer can restore
  access and every document comes back) or ``shred`` (crypto-shred and delete, as
  offboarding: irreversible).

Each step is an audit event (``key-loss:started``, ``key-loss:notified``,
``key-loss:recovered``, ``key-loss:shred``). :class:`KeyLossJob` runs in the key monitor's
sweep (one process at a time holds its lease). :func:`set_key_policy` changes a tenant's
policy (also its outage grace, at most the revocation bound).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from byok.errors import InvalidInput
from byok.service.notify import Notifier, post_signed
from byok.service.offboarding import offboard_tenant
from byok.service.vendor import Vendor
from byok.store.key_policies import KeyLossAction, TenantPolicy
from byok.store.schema import TenantState

__all__ = ["KeyLossJob", "set_key_policy"]

_log = logging.getLogger(__name__)


def set_key_policy(vendor: Vendor, tenant: str, **changes: Any) -> TenantPolicy:
    """Change the tenant's outage grace and key-loss policy (an audit event).

    Raises:
        InvalidInput: a bad value, e.g. an outage grace above the revocation bound.
        NotFound: no such tenant.
    """
    vendor.tenants.get(tenant)
    grace = changes.get("outage_grace_s")
    if grace is not None and grace > vendor.settings.revocation_bound_s:
        raise InvalidInput(
            "outage_grace_s", f"must be at most the revocation bound "
            f"({vendor.settings.revocation_bound_s:g} s)", tenant=tenant,
        )  # fmt: skip
    if changes.get("on_key_loss") is not None:
        changes["on_key_loss"] = KeyLossAction(changes["on_key_loss"])
    if "webhook_url" in changes:  # the old URL hears of it first: a thief cannot silence it
        vendor.notifier.notify(tenant, "webhook:changed", {"url": changes["webhook_url"]})
    if changes.get("webhook_url") and vendor.policies.get(tenant).webhook_secret is None:
        changes["webhook_secret"] = secrets.token_hex(32)
    policy = vendor.policies.update(tenant, **{k: v for k, v in changes.items() if v is not None})
    shown = {k: str(v) for k, v in changes.items() if k != "webhook_secret" and v is not None}
    vendor.audit.record("tenant:key-policy", tenant=tenant, detail=shown)
    vendor.forget_state(tenant)  # this node applies the new grace now, others within 1 s
    return policy


class KeyLossJob:
    """Applies every tenant's key-loss policy (call :meth:`sweep` periodically).

    Args:
        vendor: the service.
        notifier: sends one signed notice (default :func:`post_signed`).
    """

    def __init__(self, vendor: Vendor, *, notifier: Notifier = post_signed) -> None:
        self._vendor = vendor
        self._notify = notifier

    def sweep(self) -> list[tuple[str, str]]:
        """One pass over the tenants with a policy; returns (tenant, step) for each step."""
        steps: list[tuple[str, str]] = []
        for policy in self._vendor.policies.with_webhook_or_loss():
            state = self._vendor.tenants.get(policy.tenant).state
            if state == TenantState.KEY_UNAVAILABLE:
                steps += self._unavailable(policy, self._vendor.store.clock())
            elif policy.unavailable_since is not None:
                self._vendor.policies.update(policy.tenant, unavailable_since=None)
                self._step(policy, "key-loss:recovered", "key-available")
                steps.append((policy.tenant, "recovered"))
        return steps

    def _unavailable(self, policy: TenantPolicy, now: datetime) -> list[tuple[str, str]]:
        tenant, since = policy.tenant, policy.unavailable_since
        if since is None:
            self._vendor.policies.update(tenant, unavailable_since=now, last_notified_at=now)
            self._step(policy, "key-loss:started", "key-unavailable", since=now)
            return [(tenant, "started")]
        steps = []
        last = policy.last_notified_at or since
        every = policy.notify_every_s
        if every is not None and (now - last).total_seconds() >= every:
            self._vendor.policies.update(tenant, last_notified_at=now)
            self._step(policy, "key-loss:notified", "key-still-unavailable", since=since)
            steps.append((tenant, "notified"))
        after = policy.shred_after_s
        shred = policy.on_key_loss == KeyLossAction.SHRED and after is not None
        if shred and after is not None and (now - since).total_seconds() >= after:
            self._step(policy, "key-loss:shred", "tenant-crypto-shredded", since=since)
            offboard_tenant(self._vendor, tenant, confirm=tenant)
            steps.append((tenant, "shredded"))
        return steps

    def _step(
        self, policy: TenantPolicy, event: str, notice: str, since: datetime | None = None
    ) -> None:
        delivered: bool | None = None
        if policy.webhook_url and policy.webhook_secret:
            body = {
                "type": notice,
                "tenant": policy.tenant,
                "since": since,
                "on_key_loss": str(policy.on_key_loss),
                "shred_after_s": policy.shred_after_s,
            }
            delivered = self._notify(policy.webhook_url, policy.webhook_secret, body)
        outcome = "ok" if delivered is not False else "webhook-failed"
        self._vendor.audit.record(
            event, tenant=policy.tenant, outcome=outcome,
            detail={"notice": notice, "on_key_loss": str(policy.on_key_loss),
                    "webhook": "sent" if delivered else "none" if delivered is None else "failed"},
        )  # fmt: skip
        if delivered is False:
            _log.warning("key-loss webhook for %s failed (%s)", policy.tenant, notice)
