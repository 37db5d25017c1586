"""Signed webhooks: POST a small JSON notice the receiver can authenticate.

Each request carries ``X-Byok-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` computed with
the receiver's secret over ``"<t>." + body`` (the Stripe scheme): the receiver recomputes it,
compares in constant time and refuses a ``t`` outside its replay window. Bodies carry
identifiers and states only, never key material.

The tenant's webhook is the one of its key policy (``PUT /v1/tenants/{t}/key-policy``,
``webhook_url``; ``byok.store.key_policies``). Two senders use it: the key-loss job
(:func:`post_signed`, from the key monitor) and :class:`TenantNotifier`, which tells the
tenant of every key-configuration submission, verification, approval and activation
(``byok.service.onboarding``) **without ever blocking or failing** the request that caused
it: a bounded queue, one daemon thread, a bounded timeout; a full queue, an unreachable
endpoint or a non-2xx answer is logged and counted, never raised. The audit log is the
record; the webhook is the alarm.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from byok.store.database import Store
from byok.store.key_policies import KeyPolicyRepository

__all__ = ["SIGNATURE_HEADER", "Notifier", "TenantNotifier", "post_signed", "sign", "verify"]

_log = logging.getLogger("byok.notify")

SIGNATURE_HEADER = "X-Byok-Signature"
TIMEOUT_S = 5.0
Notifier = Callable[[str, str, Mapping[str, Any]], bool]


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Byok-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, now: float, window_s: float = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``window_s`` of ``now``."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > window_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def post_signed(
    url: str, secret: str, notice: Mapping[str, Any], *, timeout_s: float = TIMEOUT_S
) -> bool:
    """POST ``notice`` as signed JSON; True when the receiver answered 2xx (never raises)."""
    body = json.dumps(dict(notice), sort_keys=True, default=str).encode()
    request = urllib.request.Request(  # noqa: S310 - a URL the tenant configured (https/loopback)
        url, data=body, method="POST",
        headers={"Content-Type": "application/json",
                 SIGNATURE_HEADER: sign(secret, body, int(time.time()))},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            return 200 <= int(answer.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class _Delivery:
    tenant: str
    url: str
    secret: str = field(repr=False)
    notice: Mapping[str, Any] = field(default_factory=dict)


class TenantNotifier:
    """Sends tenants' key-configuration events to their webhooks, in the background.

    Args:
        store: where the tenants' key policies (webhook URL and secret) are.
        timeout_s: bound of one delivery.
        max_queue: events waiting at most; more are dropped (and counted in ``failures``).
        clock: UTC time for the notice.
    """

    def __init__(
        self,
        store: Store,
        *,
        timeout_s: float = 2.0,
        max_queue: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policies = KeyPolicyRepository(store)
        self.timeout_s = timeout_s
        self.failures = 0
        self.delivered = 0
        self._clock = clock
        self._queue: queue.Queue[_Delivery] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def notify(self, tenant: str, event: str, detail: Mapping[str, Any]) -> bool:
        """Queue ``event`` for ``tenant``'s webhook, if it has one; never raises, never waits.

        Returns:
            True when queued; False when the tenant has no webhook, the queue is full or the
            policy could not be read (the last two counted in :attr:`failures`).
        """
        try:
            policy = self.policies.get(tenant)
        except Exception:  # a notification must never fail the operation that caused it
            _log.warning("key policy of tenant %r unreadable; event %s not sent", tenant, event)
            self.failures += 1
            return False
        if not policy.webhook_url or not policy.webhook_secret:
            return False
        notice = {"event": event, "tenant": tenant, "time": self._clock().isoformat(),
                  "detail": dict(detail)}  # fmt: skip
        try:
            self._queue.put_nowait(
                _Delivery(tenant, policy.webhook_url, policy.webhook_secret, notice)
            )
        except queue.Full:
            _log.warning("webhook queue full; event %s for tenant %r dropped", event, tenant)
            self.failures += 1
            return False
        self._ensure_worker()
        return True

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued event was attempted (tests, shutdown).

        Returns:
            True when the queue emptied within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="byok-notify", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                sent = post_signed(
                    delivery.url, delivery.secret, delivery.notice, timeout_s=self.timeout_s
                )
                if sent:
                    self.delivered += 1
                else:
                    self.failures += 1
                    _log.warning("webhook of tenant %r failed", delivery.tenant)
            finally:
                self._queue.task_done()
