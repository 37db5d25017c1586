"""Push revocation: the customer's key and role events make every node re-check at once.

The customer forwards its KMS key and IAM client-role events (EventBridge rule -> API
destination; templates from ``byok customer policy --forwarding-rule``) to
``POST /v1/key-events/{tenant}``. Each request is authenticated and then only *triggers a
probe*: the event's content is never trusted to say what happened.

1. **Authenticate.** The request carries the tenant's key-event secret in the
   ``X-Byok-Event-Key`` header (the EventBridge connection's API-key auth). Only its SHA-256
   is stored; comparison is constant-time. A wrong secret, an unknown tenant and a tenant
   without push revocation all get the same refusal (:class:`KeyEventRejected`).
2. **Replay window.** The event's ``time`` must be within :data:`REPLAY_WINDOW_S` of now.
3. **Idempotency.** The event ``id`` is recorded per tenant; a repeated id does nothing.
4. **Re-probe.** The tenant's cached role credentials are dropped and its key is probed now
   (DescribeKey and a real unwrap of the current TK). A refusal marks the tenant
   ``KEY_UNAVAILABLE`` and signals every node to purge the tenant's keys
   (``tenant-keys-purged``); an outage changes nothing; a success changes nothing (or
   restores ``ACTIVE`` after a recovery).

So a forged, replayed or irrelevant event can at most cost a probe: the state always comes
from KMS's own answer. The revocation bound (cache TTL) stays the backstop when events are
not forwarded or get lost.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from byok.errors import (
    ByokError,
    CustomerAccessError,
    InvalidInput,
    TransientKmsError,
    UseRefused,
    mapping_for,
)

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = [
    "MAX_EVENT_BYTES",
    "REPLAY_WINDOW_S",
    "SECRET_HEADER",
    "KeyEventOutcome",
    "KeyEventReceiver",
    "KeyEventRejected",
]

SECRET_HEADER = "X-Byok-Event-Key"  # noqa: S105 - a header name
REPLAY_WINDOW_S = 300.0
MAX_EVENT_BYTES = 64 * 1024
_MAX_ID = 128


class KeyEventRejected(ByokError):
    """The key event is not authentic or not fresh (one message for every reason)."""

    default_fix = (
        "Send the tenant's key-event secret in the X-Byok-Event-Key header (the EventBridge "
        "connection's API key) and deliver events within 5 minutes of their time."
    )


@dataclass(frozen=True)
class KeyEventOutcome:
    """What an accepted event caused.

    Attributes:
        outcome: ``revoked`` (refused: purged everywhere), ``accessible``, ``outage`` (KMS
            trouble: nothing changed), ``duplicate`` (seen before: nothing done) or
            ``not-serving`` (the tenant is not active: nothing to probe).
        code: the refusal's stable error code (``denied``, ``disabled``...), if any.
        state: the tenant's state after the probe.
        probe_s: seconds the probe took.
    """

    tenant: str
    event_id: str
    outcome: str
    code: str | None
    state: str
    probe_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return {
            "tenant": self.tenant,
            "event_id": self.event_id,
            "outcome": self.outcome,
            "code": self.code,
            "state": self.state,
            "probe_s": round(self.probe_s, 4),
        }


class KeyEventReceiver:
    """Authenticates key events and re-probes the tenant's key (thread-safe).

    Args:
        vendor: the service.
        clock: wall clock, Unix seconds (the replay window).
    """

    def __init__(self, vendor: Vendor, *, clock: Any = time.time) -> None:
        self._vendor = vendor
        self._clock = clock
        self._lock = threading.Lock()
        self._tenant_locks: dict[str, threading.Lock] = {}

    def receive(self, tenant: str, secret: str | None, body: bytes) -> KeyEventOutcome:
        """Handle one delivered event.

        Returns:
            The :class:`KeyEventOutcome`.

        Raises:
            KeyEventRejected: wrong or missing secret, unknown tenant, stale event.
            InvalidInput: the body is not an event (too big, not JSON, no id or time).
        """
        policy = self._vendor.policies.get(tenant)
        if not secret or not policy.event_secret_matches(secret):
            raise KeyEventRejected("the key event is not authenticated", tenant=tenant)
        event_id, event_time, name = _parse(body)
        if abs(self._clock() - event_time.timestamp()) > REPLAY_WINDOW_S:
            raise KeyEventRejected("the key event is outside the replay window", tenant=tenant)
        if not self._vendor.policies.accept_event(tenant, event_id):
            state = str(self._vendor.tenants.get(tenant).state)
            return KeyEventOutcome(tenant, event_id, "duplicate", None, state, 0.0)
        with self._lock_for(tenant):  # concurrent events for one tenant: one probe at a time
            outcome = self._probe(tenant, event_id, policy_changed=name == "PutKeyPolicy")
        self._vendor.audit.record(
            "key-event:received", tenant=tenant, outcome=outcome.outcome,
            detail={"event_id": event_id, "event_name": name[:64], "code": outcome.code or ""},
        )  # fmt: skip
        return outcome

    def _probe(self, tenant: str, event_id: str, *, policy_changed: bool) -> KeyEventOutcome:
        vendor = self._vendor
        started = time.monotonic()
        vendor.access.invalidate(tenant)  # a changed role trust policy bites only at AssumeRole
        error = vendor.probe_key(tenant, unwrap=True)
        elapsed = time.monotonic() - started
        if isinstance(error, CustomerAccessError):
            vendor.purge_everywhere(tenant)
            outcome, code = "revoked", mapping_for(error).code
        elif isinstance(error, UseRefused):  # a lever (scope, period, reason): only that use
            vendor.purge_everywhere(tenant)
            outcome, code = "use-refused", mapping_for(error).code
        elif isinstance(error, TransientKmsError):
            outcome, code = "outage", mapping_for(error).code
        elif error is not None:
            outcome, code = "not-serving", mapping_for(error).code
        else:
            outcome, code = "accessible", None
            if policy_changed:  # it may add a lever on a scope, period or reason: every node
                vendor.purge_everywhere(tenant)  # re-proves its keys at their next use
        state = str(vendor.tenants.get(tenant).state)
        return KeyEventOutcome(tenant, event_id, outcome, code, state, elapsed)

    def prune(self) -> int:
        """Forget event ids older than twice the replay window (no longer replayable)."""
        cutoff = datetime.fromtimestamp(self._clock(), UTC) - timedelta(seconds=2 * REPLAY_WINDOW_S)
        return self._vendor.policies.prune_events(cutoff)

    def _lock_for(self, tenant: str) -> threading.Lock:
        with self._lock:
            return self._tenant_locks.setdefault(tenant, threading.Lock())


def _parse(body: bytes) -> tuple[str, datetime, str]:
    """(event id, event time, event name) of an EventBridge event body."""
    if len(body) > MAX_EVENT_BYTES:
        raise InvalidInput("body", f"is larger than {MAX_EVENT_BYTES} bytes")
    try:
        event = json.loads(body)
    except ValueError:
        raise InvalidInput("body", "is not JSON (an EventBridge event)") from None
    if not isinstance(event, dict):
        raise InvalidInput("body", "is not a JSON object (an EventBridge event)")
    event_id, when = event.get("id"), event.get("time")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= _MAX_ID:
        raise InvalidInput("id", f"must be the event id (1 to {_MAX_ID} characters)")
    if not isinstance(when, str):
        raise InvalidInput("time", "must be the event time (ISO 8601, UTC)")
    try:
        event_time = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("time", "must be the event time (ISO 8601, UTC)") from None
    if event_time.tzinfo is None:
        raise InvalidInput("time", "must carry a time zone (ISO 8601, UTC)")
    detail = event.get("detail")
    name = detail.get("eventName") if isinstance(detail, dict) else None
    return event_id, event_time, name if isinstance(name, str) else str(event.get("detail-type"))
