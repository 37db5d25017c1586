"""Anchor each tenant's audit head in the customer's own CloudTrail.

One ``kms:Encrypt`` call on the tenant's key whose encryption context carries the tenant's
current audit head (``byok.core.audit_anchor``): KMS records the context in the customer's
CloudTrail, where the vendor cannot rewrite it, so the customer can later prove that the
vendor's audit export was not rewritten or truncated up to that point
(``byok customer activity --verify-audit``). The key monitor anchors every serving tenant at
``BYOK_AUDIT_ANCHOR_INTERVAL_SECONDS``; ``byok audit anchor`` anchors on demand.

Cost: one KMS call per tenant per interval, whatever the number of documents.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from byok.core.audit_anchor import ANCHOR_PLAINTEXT, anchor_context, fold_tenant_head
from byok.core.audit_chain import GENESIS_HASH
from byok.errors import ByokError
from byok.service.vendor import Vendor
from byok.store.schema import TenantState

__all__ = ["AnchorResult", "AuditAnchorer"]

ANCHOR_OPERATION = "audit:anchor"


@dataclass(frozen=True)
class AnchorResult:
    """One anchoring call.

    Attributes:
        tenant: the tenant.
        seq: the chain sequence number of the tenant's last event in the head.
        head: the anchored tenant head (hex).
        request_id: the KMS request id (find it in the customer's CloudTrail).
        anchored: False when there was nothing new to anchor (no call was made).
    """

    tenant: str
    seq: int
    head: str
    request_id: str | None
    anchored: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "tenant": self.tenant, "seq": self.seq, "head": self.head,
            "kms_request_id": self.request_id, "anchored": self.anchored,
        }  # fmt: skip


class AuditAnchorer:
    """Computes tenant heads (incrementally, per process) and anchors them through KMS.

    Args:
        vendor: the service.
        clock: monotonic seconds, for the anchoring interval.
    """

    def __init__(self, vendor: Vendor, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.vendor = vendor
        self._clock = clock
        self._lock = threading.Lock()
        self._heads: dict[str, tuple[int, str]] = {}  # tenant -> (last seq folded, head)
        # tenant -> (seq of the last anchor's own audit record, when)
        self._anchored: dict[str, tuple[int, float]] = {}

    def tenant_head(self, tenant: str) -> tuple[int, str]:
        """Return ``(seq of the tenant's last event, tenant head)``; ``(0, genesis)`` if none.

        Raises:
            StorageError: the audit log could not be read.
        """
        with self._lock:
            seq, head = self._heads.get(tenant, (0, GENESIS_HASH))
            for item in self.vendor.audit.log.events(tenant=tenant, after_seq=seq):
                seq, head = item.event.seq, fold_tenant_head(head, item.hash)
            self._heads[tenant] = (seq, head)
            return seq, head

    def anchor(self, tenant: str, *, force: bool = False) -> AnchorResult:
        """Anchor ``tenant``'s current head with one ``kms:Encrypt`` on its active key.

        Args:
            tenant: the tenant.
            force: anchor even when nothing was recorded since the last anchor.

        Returns:
            An :class:`AnchorResult` (``anchored`` False when there was nothing new).

        Raises:
            StateError: the tenant has no active key configuration.
            CustomerAccessError, TransientKmsError: the customer's KMS refused or failed (the
                refusal is recorded in the audit log).
        """
        seq, head = self.tenant_head(tenant)
        previous = self._anchored.get(tenant)
        if seq == 0 or (not force and previous is not None and previous[0] == seq):
            return AnchorResult(tenant, seq, head, None, anchored=False)
        wrapper = self.vendor.active_wrapper(tenant)
        context = anchor_context(tenant, seq, head)
        detail: dict[str, Any] = {"encryption_context": context, "key_arn": wrapper.key_arn}
        try:
            answer = wrapper.encrypt(ANCHOR_PLAINTEXT, context)
        except ByokError as exc:
            self.vendor.audit.record(
                ANCHOR_OPERATION, tenant=tenant, outcome=type(exc).__name__, detail=detail
            )
            raise
        recorded = self.vendor.audit.record(
            ANCHOR_OPERATION, tenant=tenant, kms_request_id=answer.request_id, detail=detail
        )
        # The anchor's own record is the tenant's newest event: "nothing new" means nothing
        # after it (it is folded into the next anchor).
        self._anchored[tenant] = (recorded.event.seq, self._clock())
        return AnchorResult(tenant, seq, head, answer.request_id, anchored=True)

    def due(self, tenant: str, interval_s: float) -> bool:
        """True when ``tenant`` was not anchored by this process in the last ``interval_s``."""
        previous = self._anchored.get(tenant)
        return previous is None or self._clock() - previous[1] >= interval_s

    def anchor_serving(self, interval_s: float = 0.0) -> list[AnchorResult]:
        """Anchor every ACTIVE tenant that is due (all of them with ``interval_s`` 0).

        A tenant whose KMS refuses is skipped (the refusal is in the audit log and the key
        monitor marks the tenant); the others are still anchored.

        Returns:
            One result per tenant anchored or found up to date.
        """
        results: list[AnchorResult] = []
        for tenant in self.vendor.tenants.list():
            if tenant.state != TenantState.ACTIVE or not self.due(tenant.id, interval_s):
                continue
            try:
                results.append(self.anchor(tenant.id))
            except ByokError:
                continue
        return results
