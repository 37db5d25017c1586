"""Cluster sync: what this process drops when another node (or this one) signals a change.

Every :class:`~byok.service.vendor.Vendor` subscribes to its store's signal bus
(``byok.store.signals``); ``byok serve`` starts the bus's listener. On

==========================  ===========================================================
signal                      this process
==========================  ===========================================================
``tenant-keys-purged``      forgets every plaintext TK, credential and cached state of
                            the tenant (a deny anywhere, or a push revocation)
``tenant-state``            forgets the tenant's cached state; when the new state is
                            ``KEY_UNAVAILABLE`` or ``OFFBOARDED`` also its keys
``tenant-offboarded``       forgets everything about the tenant
==========================  ===========================================================

``token-revoked`` is the API's (``byok.api.auth``). A node that misses signals (listener
stopped, database unreachable) still refuses within the revocation bound: the key cache's
TTL never depends on signals.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from byok.store.schema import TenantState
from byok.store.signals import Signal, SignalKind, Subscription

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = ["ClusterSync"]

_log = logging.getLogger(__name__)
_LOSS_STATES = {str(TenantState.KEY_UNAVAILABLE), str(TenantState.OFFBOARDED)}
_KINDS = {SignalKind.TENANT_KEYS_PURGED, SignalKind.TENANT_STATE, SignalKind.TENANT_OFFBOARDED}


class ClusterSync:
    """Subscribes ``vendor`` to the signals that invalidate what it caches.

    Args:
        vendor: the service whose caches follow the cluster.
    """

    def __init__(self, vendor: Vendor) -> None:
        self._vendor = vendor
        self.purges = 0  # signals that made this process forget a tenant's keys
        self._subscription: Subscription | None = vendor.store.signals.subscribe(
            self.on_signal, kinds=_KINDS
        )

    def on_signal(self, signal: Signal) -> None:
        """Apply one signal to this process's caches (called on the listener thread)."""
        tenant = signal.tenant
        if tenant is None:
            return
        if signal.kind == SignalKind.TENANT_STATE and signal.subject not in _LOSS_STATES:
            self._vendor.forget_state(tenant)
            return
        self._vendor.forget_tenant(tenant)
        self.purges += 1
        _log.info("signal %s #%d: forgot tenant %s's keys", signal.kind, signal.id, tenant)

    def close(self) -> None:
        """Stop following the cluster (idempotent)."""
        if self._subscription is not None:
            self._subscription.cancel()
            self._subscription = None
