"""The key monitor: detect revocation for idle tenants too, and recovery.

Documents only notice a revoked key when they next need it (within the revocation bound). A
tenant nobody reads would otherwise show ``ACTIVE`` long after the customer pulled access, so
the monitor probes every serving tenant's key each interval (DESIGN.md "Revocation"):
``kms:DescribeKey`` for ``ACTIVE`` tenants, plus a real unwrap for ``KEY_UNAVAILABLE`` ones
so that recovery is proven, not assumed.

With several service processes exactly one runs the sweep: each sweep first takes the
``key-monitor`` lease (:class:`~byok.store.leases.LeaseRepository`), which expires if its
holder dies, so another process takes over within two intervals.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from byok.errors import ByokError
from byok.service.audit_anchor import AuditAnchorer
from byok.service.vendor import Vendor
from byok.store.leases import LeaseRepository
from byok.store.schema import TenantState

__all__ = ["KeyMonitor", "SweepResult"]

LEASE_NAME = "key-monitor"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did.

    Attributes:
        ran: False when another process holds the lease (this one did nothing).
        states: each probed tenant's state after the probe.
        changed: tenants whose state changed during the sweep.
    """

    ran: bool
    states: dict[str, TenantState] = field(default_factory=dict)
    changed: dict[str, tuple[TenantState, TenantState]] = field(default_factory=dict)


class KeyMonitor:
    """Periodic key probe for every serving tenant.

    Args:
        vendor: the service.
        interval_s: seconds between sweeps (default: the vendor's setting).
        holder: this process's lease holder name (default: host and pid).
    """

    def __init__(
        self, vendor: Vendor, *, interval_s: float | None = None, holder: str | None = None
    ) -> None:
        self.vendor = vendor
        self.interval_s = interval_s or vendor.settings.key_monitor_interval_s
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self._leases = LeaseRepository(vendor.store)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: SweepResult | None = None
        self.anchorer = AuditAnchorer(vendor)

    def sweep(self, *, take_lease: bool = True) -> SweepResult:
        """Probe every ACTIVE and KEY_UNAVAILABLE tenant once, if this process holds the lease.

        Args:
            take_lease: False for a one-off sweep (``byok monitor --once``) that runs even while
                another process holds the lease. That is safe: a probe is what any request for
                the tenant does; the lease only keeps N servers from repeating it every interval.

        Returns:
            A :class:`SweepResult`.
        """
        ttl = timedelta(seconds=max(2 * self.interval_s, 1.0))
        if take_lease and not self._leases.try_acquire(LEASE_NAME, self.holder, ttl):
            self.last = SweepResult(ran=False)
            return self.last
        states: dict[str, TenantState] = {}
        changed: dict[str, tuple[TenantState, TenantState]] = {}
        for tenant in self.vendor.tenants.list():
            if tenant.state not in (TenantState.ACTIVE, TenantState.KEY_UNAVAILABLE):
                continue
            try:
                after = self.vendor.check_key(tenant.id)
            except ByokError as exc:  # e.g. storage trouble: report, keep sweeping
                _log.warning("key monitor: %s: %s", tenant.id, exc)
                continue
            states[tenant.id] = after
            if after != tenant.state:
                changed[tenant.id] = (tenant.state, after)
        self.last = SweepResult(ran=True, states=states, changed=changed)
        self._anchor_due()
        return self.last

    def _anchor_due(self) -> None:
        """Anchor the audit heads that are due (docs/SECURITY.md#audit-head-anchoring)."""
        interval = self.vendor.settings.audit_anchor_interval_s
        if interval > 0:
            self.anchorer.anchor_serving(interval)

    def lease_holder(self) -> str | None:
        """Who holds the unexpired ``key-monitor`` lease now (None: nobody)."""
        return self._leases.holder(LEASE_NAME)

    def start(self) -> None:
        """Sweep in a daemon thread every ``interval_s`` until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="byok-key-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and release the lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
            self._thread = None
        self._leases.release(LEASE_NAME, self.holder)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # the monitor must survive anything; it is logged
                _log.exception("key monitor sweep failed")
            self._stop.wait(self.interval_s)
