"""A CloudTrail-like event log and ``cloudtrail:LookupEvents`` over it.

Every KMS request (allowed or refused), every ``sts:AssumeRole`` and every IAM role change
(:mod:`byok.localaws.iam_events`) is recorded as a CloudTrail
management event (AWS CloudTrail User Guide, "CloudTrail record contents"): ``eventName``,
``eventTime``, ``eventSource``, ``userIdentity``, ``recipientAccountId``, ``resources``,
``requestParameters``, ``requestID`` (the ``x-amzn-RequestId`` the caller received) and, for
refusals, ``errorCode``/``errorMessage``. As in AWS, a cross-account call is recorded both in
the resource owner's account and in the caller's. Each stored record is also handed to the
listener (the key-event bus, :mod:`byok.localaws.events`).

LookupEvents answers per account and region, newest first, with one lookup attribute, a time
window and ``NextToken`` pagination, ``CloudTrailEvent`` being the record as a JSON string.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from byok.localaws.accounts import Caller
from byok.localaws.wire import AwsError

__all__ = ["EventLog", "TrailEvent"]

_MAX_PER_ACCOUNT = 100_000
_ATTRIBUTES = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)


@dataclass(frozen=True)
class TrailEvent:
    """One recorded event: the CloudTrail record plus the fields LookupEvents filters on."""

    account: str
    region: str
    time: datetime
    record: dict[str, Any]
    username: str

    def matches(self, key: str, value: str) -> bool:
        """True if lookup attribute ``key`` has ``value`` for this event."""
        record = self.record
        if key == "EventId":
            return bool(record["eventID"] == value)
        if key == "EventName":
            return bool(record["eventName"] == value)
        if key == "EventSource":
            return bool(record["eventSource"] == value)
        if key == "ReadOnly":
            return str(record["readOnly"]).lower() == value.lower()
        if key == "Username":
            return self.username == value
        if key == "AccessKeyId":
            return bool(record["userIdentity"].get("accessKeyId") == value)
        field = "type" if key == "ResourceType" else "ARN"
        return any(r.get(field) == value for r in record.get("resources", []))

    def summary(self) -> dict[str, Any]:
        """This event as one ``Events`` entry of a LookupEvents response."""
        record = self.record
        return {
            "EventId": record["eventID"],
            "EventName": record["eventName"],
            "ReadOnly": str(record["readOnly"]).lower(),
            "AccessKeyId": record["userIdentity"].get("accessKeyId", ""),
            "EventTime": self.time.timestamp(),
            "EventSource": record["eventSource"],
            "Username": self.username,
            "Resources": [
                {"ResourceType": r["type"], "ResourceName": r["ARN"]}
                for r in record.get("resources", [])
            ],
            "CloudTrailEvent": json.dumps(record),
        }


class EventLog:
    """Per-account event store (bounded, oldest dropped first), safe across threads."""

    def __init__(
        self,
        clock: Callable[[], datetime] | None = None,
        listener: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._events: dict[str, deque[TrailEvent]] = {}
        self._lock = threading.Lock()
        self._listener = listener  # called with each account's record, after it is stored

    def clear(self) -> None:
        """Forget every event."""
        with self._lock:
            self._events.clear()

    def record(
        self,
        *,
        caller: Caller,
        source: str,
        name: str,
        region: str,
        request_id: str,
        owners: Iterable[str],
        resources: list[dict[str, str]],
        parameters: dict[str, Any] | None,
        error: AwsError | None,
        read_only: bool,
        user_agent: str,
        source_ip: str,
    ) -> None:
        """Record one API call in each account of ``owners`` and in the caller's account."""
        # CloudTrail times have whole seconds (and botocore sends StartTime/EndTime as whole
        # seconds), so an event made in the current second must still be inside EndTime=now.
        now = self._clock().replace(microsecond=0)
        base: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": caller.user_identity(),
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
            "requestParameters": parameters,
            "responseElements": None,
            "requestID": request_id,
            "eventID": "",
            "readOnly": read_only,
            "resources": resources,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": "",
            "eventCategory": "Management",
        }
        if error is not None:
            base["errorCode"] = error.code
            base["errorMessage"] = error.message
        username = caller.name
        records = []
        with self._lock:
            for account in dict.fromkeys([*owners, caller.account]):
                record = dict(base, eventID=str(uuid.uuid4()), recipientAccountId=account)
                queue = self._events.setdefault(account, deque(maxlen=_MAX_PER_ACCOUNT))
                queue.append(TrailEvent(account, region, now, record, username))
                records.append(record)
        if self._listener is not None:
            for record in records:
                self._listener(record)

    def lookup(self, account: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
        """Answer a LookupEvents call of ``account`` in ``region``.

        Returns:
            ``{"Events": [...], "NextToken": ...}``, newest first.

        Raises:
            AwsError: InvalidLookupAttributesException, InvalidTimeRangeException,
                InvalidMaxResultsException or InvalidNextTokenException, as CloudTrail does.
        """
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise AwsError(
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            )
        for attribute in attributes:
            if attribute.get("AttributeKey") not in _ATTRIBUTES:
                raise AwsError(
                    "InvalidLookupAttributesException",
                    f"Invalid attribute key: {attribute.get('AttributeKey')}",
                )
        start, end = _time(params.get("StartTime")), _time(params.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise AwsError(
                "InvalidTimeRangeException", "Start time must be earlier than or equal to end time."
            )
        limit = int(params.get("MaxResults") or 50)
        if not 1 <= limit <= 50:
            raise AwsError("InvalidMaxResultsException", "MaxResults must be from 1 to 50.")
        offset = _offset(params.get("NextToken"))
        with self._lock:
            events = list(self._events.get(account, ()))
        selected = [
            e
            for e in reversed(events)
            if e.region == region
            and (start is None or e.time.timestamp() >= start)
            and (end is None or e.time.timestamp() <= end)
            and all(
                e.matches(a["AttributeKey"], str(a.get("AttributeValue", ""))) for a in attributes
            )
        ]
        page = selected[offset : offset + limit]
        answer: dict[str, Any] = {"Events": [e.summary() for e in page]}
        if offset + limit < len(selected):
            answer["NextToken"] = str(offset + limit)
        return answer


def _time(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AwsError("InvalidTimeRangeException", "Time must be a timestamp.") from None


def _offset(token: Any) -> int:
    if token is None:
        return 0
    if not isinstance(token, str) or not token.isdigit():
        raise AwsError("InvalidNextTokenException", "Invalid NextToken.")
    return int(token)
