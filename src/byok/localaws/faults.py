"""Fault injection: throttling, server errors, dropped connections and latency on demand.

Faults are set through the admin endpoint (``POST /_byok/faults``, docs/local-aws.md#faults)
and apply to a chosen share of calls of one operation (or ``*``) of one service, optionally
only for one caller account and only ``count`` times. A rate of 1.0 is deterministic; other
rates draw from a seeded RNG, so a run replays exactly.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from byok.localaws.wire import AwsError, DropConnection

__all__ = ["KINDS", "Fault", "FaultSet"]

KINDS = ("throttle", "error5xx", "reset", "latency")
_JSON_SERVICES = ("kms", "cloudtrail")


@dataclass
class Fault:
    """One fault rule (see the module docstring)."""

    service: str
    operation: str
    kind: str
    rate: float = 1.0
    latency_ms: int = 0
    count: int | None = None
    status: int = 500
    account: str | None = None
    region: str | None = None

    def applies(
        self, service: str | None, operation: str, account: str | None, region: str | None = None
    ) -> bool:
        """True if this rule covers a call of ``operation`` on ``service`` by ``account`` in
        ``region`` (the endpoint's Region)."""
        return (
            self.service == service
            and self.operation in ("*", operation)
            and (self.account is None or self.account == account)
            and (self.region is None or self.region == region)
            and (self.count is None or self.count > 0)
        )


def _fault_from(spec: Mapping[str, Any]) -> Fault:
    unknown = set(spec) - {f for f in Fault.__dataclass_fields__} - {"seed"}
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if not isinstance(spec.get("service"), str):
        raise ValueError("service must be a service name such as 'kms' or 'sts'")
    rate = float(spec.get("rate", 1.0))
    if not 0.0 <= rate <= 1.0:
        raise ValueError("rate must be between 0.0 and 1.0")
    status = int(spec.get("status", 500))
    if status not in (500, 503):
        raise ValueError("status must be 500 or 503")
    count = spec.get("count")
    return Fault(
        service=spec["service"].lower(),
        operation=str(spec.get("operation", "*")),
        kind=kind,
        rate=rate,
        latency_ms=max(0, int(spec.get("latency_ms", 0))),
        count=None if count is None else int(count),
        status=status,
        account=spec.get("account"),
        region=spec.get("region"),
    )


class FaultSet:
    """The active fault rules; safe across threads.

    ``sleep`` is injectable so unit tests need not wait for latency faults.
    """

    def __init__(self, seed: int = 0, sleep: Callable[[float], None] = time.sleep) -> None:
        self._rules: list[Fault] = []
        self._rng = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
        self._lock = threading.Lock()
        self._sleep = sleep

    def add(self, spec: Mapping[str, Any]) -> Fault:
        """Add a rule from its JSON description; a ``seed`` field reseeds the RNG.

        Returns:
            The rule added.

        Raises:
            ValueError: if the description is malformed.
        """
        fault = _fault_from(spec)
        with self._lock:
            if "seed" in spec:
                self._rng.seed(int(spec["seed"]))
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        """The active rules as JSON-ready dicts."""
        with self._lock:
            return [asdict(f) for f in self._rules]

    def _draw(
        self, service: str | None, operation: str, account: str | None, region: str | None
    ) -> Fault | None:
        with self._lock:
            for fault in self._rules:
                if not fault.applies(service, operation, account, region):
                    continue
                if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None

    def inject(
        self, service: str | None, operation: str, account: str | None, region: str | None = None
    ) -> None:
        """Apply the first matching rule, if its draw hits.

        Latency sleeps and returns; the other kinds raise.

        Raises:
            AwsError: ``ThrottlingException``/``Throttling`` (400) for throttle;
                ``KMSInternalException``/``InternalFailure`` (500) or
                ``ServiceUnavailableException``/``ServiceUnavailable`` (503) for error5xx.
            DropConnection: for reset.
        """
        fault = self._draw(service, operation, account, region)
        if fault is None:
            return
        json_protocol = service in _JSON_SERVICES
        if fault.kind == "latency":
            self._sleep(fault.latency_ms / 1000)
        elif fault.kind == "throttle":
            code = "ThrottlingException" if json_protocol else "Throttling"
            raise AwsError(code, "Rate exceeded", 400)
        elif fault.kind == "reset":
            raise DropConnection()
        elif fault.status == 503:
            code = "ServiceUnavailableException" if json_protocol else "ServiceUnavailable"
            raise AwsError(code, "Service is unavailable. Try again later.", 503)
        else:
            code = "KMSInternalException" if service == "kms" else "InternalFailure"
            raise AwsError(
                code,
                "The request processing has failed because of an unknown "
                "error, exception or failure.",
                500,
            )
