"""Key events: what a customer's EventBridge would see, delivered to configured HTTP targets.

AWS: CloudTrail management events of *write* calls reach EventBridge in the account that
records them as events of detail type ``AWS API Call via CloudTrail`` (Amazon EventBridge User
Guide, "Events from AWS services delivered via AWS CloudTrail"). The local AWS records KMS and
IAM write calls in its event log (:mod:`byok.localaws.trail`); this module turns every such
record into that EventBridge shape::

    {"version": "0", "id": ..., "detail-type": "AWS API Call via CloudTrail",
     "source": "aws.kms" | "aws.iam", "account": <recipient>, "time": ..., "region": ...,
     "resources": [], "detail": <the CloudTrail record>}

and POSTs it (JSON) to each target configured for that account. Targets are set through the
admin endpoint ``/_byok/event-targets`` (docs/local-aws.md#key-events). Delivery is
asynchronous, in order per target, at most :data:`_ATTEMPTS` tries with a short back-off; the
outcome of each delivery is kept (bounded) for tests to read.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventBus", "EventTarget", "eventbridge_event"]

_ACCOUNT_RE = re.compile(r"[0-9]{12}")
_SOURCES = {"kms.amazonaws.com": "aws.kms", "iam.amazonaws.com": "aws.iam"}
_ATTEMPTS = 3
_TIMEOUT_S = 5.0
_MAX_DELIVERIES = 1000


@dataclass(frozen=True)
class EventTarget:
    """Where events go: an HTTP(S) URL, optionally only one account's / some event names."""

    url: str
    account: str | None = None
    event_names: tuple[str, ...] = ()
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: Extra request headers, like an EventBridge connection's API-key auth (never shown).
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> EventTarget:
        """Validate an admin request body.

        Raises:
            ValueError: naming the field and the fix.
        """
        unknown = sorted(set(spec) - {"url", "account", "event_names", "headers"})
        if unknown:
            raise ValueError(
                f"unknown field {unknown[0]!r}; use url, account, event_names, headers"
            )
        url = spec.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http:// or https:// URL")
        account = spec.get("account")
        if account is not None and not (
            isinstance(account, str) and _ACCOUNT_RE.fullmatch(account)
        ):
            raise ValueError("account must be a 12-digit account id")
        names = spec.get("event_names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ValueError("event_names must be a list of event names such as DisableKey")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k and "\n" not in k + v
            for k, v in headers.items()
        ):
            raise ValueError("headers must map header names to values (an API key, say)")
        return cls(url, account, tuple(names), headers=tuple(sorted(headers.items())))

    def wants(self, event: dict[str, Any]) -> bool:
        """True if ``event`` (EventBridge shape) is for this target."""
        if self.account is not None and event["account"] != self.account:
            return False
        return not self.event_names or event["detail"]["eventName"] in self.event_names

    def describe(self) -> dict[str, Any]:
        """The target as the admin endpoint shows it."""
        return {
            "id": self.id,
            "url": self.url,
            "account": self.account,
            "event_names": list(self.event_names),
        }


def eventbridge_event(record: dict[str, Any]) -> dict[str, Any] | None:
    """The EventBridge event for one CloudTrail ``record``, or None if EventBridge would not see it
    (read-only calls, services other than KMS and IAM)."""
    source = _SOURCES.get(record.get("eventSource", ""))
    if source is None or record.get("readOnly"):
        return None
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    }


class EventBus:
    """The configured targets and one background sender (started on first use)."""

    def __init__(self) -> None:
        self._targets: list[EventTarget] = []
        self._deliveries: deque[dict[str, Any]] = deque(maxlen=_MAX_DELIVERIES)
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[EventTarget, dict[str, Any]]] = queue.Queue()
        self._sender: threading.Thread | None = None

    def add(self, target: EventTarget) -> None:
        """Start delivering to ``target``."""
        with self._lock:
            self._targets.append(target)

    def remove(self, target_id: str) -> bool:
        """Stop delivering to the target with this id; False if there is none."""
        with self._lock:
            kept = [t for t in self._targets if t.id != target_id]
            found = len(kept) != len(self._targets)
            self._targets = kept
        return found

    def clear(self) -> None:
        """Remove every target and forget past deliveries (queued events are dropped)."""
        with self._lock:
            self._targets.clear()
            self._deliveries.clear()
        while not self._queue.empty():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def describe(self) -> dict[str, Any]:
        """Targets and the recent delivery outcomes (newest last)."""
        with self._lock:
            return {
                "targets": [t.describe() for t in self._targets],
                "deliveries": list(self._deliveries),
            }

    def publish(self, record: dict[str, Any]) -> None:
        """Queue ``record`` (one account's CloudTrail record) for every target that wants it."""
        with self._lock:
            if not self._targets:
                return
            event = eventbridge_event(record)
            wanted = [t for t in self._targets if event is not None and t.wants(event)]
            if event is None or not wanted:
                return
            if self._sender is None:
                self._sender = threading.Thread(target=self._run, name="key-events", daemon=True)
                self._sender.start()
        for target in wanted:
            self._queue.put((target, event))

    def _run(self) -> None:
        while True:
            target, event = self._queue.get()
            outcome = _deliver(target, event)
            with self._lock:
                self._deliveries.append(outcome)


def _deliver(target: EventTarget, event: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(event).encode()
    error = ""
    for attempt in range(1, _ATTEMPTS + 1):
        request = urllib.request.Request(  # noqa: S310 - a URL the operator configured
            target.url, data=body, method="POST",
            headers={**dict(target.headers), "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as answer:  # noqa: S310
                status = int(answer.status)
            if status < 300:
                return _outcome(target, event, attempt, status, "")
            error = f"HTTP {status}"
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}"
        except (OSError, ValueError) as exc:
            error = type(exc).__name__
        threading.Event().wait(0.2 * attempt)
    return _outcome(target, event, _ATTEMPTS, None, error)


def _outcome(
    target: EventTarget, event: dict[str, Any], attempts: int, status: int | None, error: str
) -> dict[str, Any]:
    return {
        "target": target.id,
        "event_id": event["id"],
        "event_name": event["detail"]["eventName"],
        "account": event["account"],
        "attempts": attempts,
        "status": status,
        "error": error,
    }
