"""Faults injected by the local AWS: bounded retries, typed errors, recovery; refresh race."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_world import Customer, MakeAccess

from byok.errors import ByokError, KmsThrottled, KmsUnavailable, RoleAssumptionDenied

pytestmark = pytest.mark.localaws

CONTEXT = {"tenant": "acme", "tk": "tk-1"}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("throttle", KmsThrottled), ("error5xx", KmsUnavailable), ("reset", KmsUnavailable)],
)
def test_kms_fault_bounded_retries_then_typed_error_then_recovery(
    make_access: MakeAccess,
    customer: Customer,
    local_aws: Any,
    kind: str,
    expected: type[ByokError],
) -> None:
    access = make_access(max_attempts=3)
    wrapper = access.provider.wrapper_for(customer.direct())
    made = wrapper.generate_data_key(CONTEXT)  # credentials and client warm
    access.factory.counter.reset()
    local_aws.set_fault(service="kms", operation="Decrypt", kind=kind, rate=1.0)
    with pytest.raises(expected) as exc:
        wrapper.unwrap(made.wrapped, CONTEXT)
    assert exc.value.tenant == "acme" and exc.value.operation == "kms:Decrypt"
    assert "Retry later" in exc.value.fix
    assert access.factory.counter.attempts()["kms:Decrypt"] == 3  # bounded: 1 + 2 retries
    assert access.counts()["kms:Decrypt"] == 1
    assert access.purged == []  # transient trouble never purges the tenant's keys
    local_aws.clear_faults()
    assert wrapper.unwrap(made.wrapped, CONTEXT).plaintext == made.plaintext


def test_partial_throttling_is_absorbed_by_retries(
    make_access: MakeAccess, customer: Customer, local_aws: Any
) -> None:
    access = make_access(max_attempts=8)
    wrapper = access.provider.wrapper_for(customer.direct())
    made = wrapper.generate_data_key(CONTEXT)
    access.factory.counter.reset()
    local_aws.set_fault(service="kms", operation="Decrypt", kind="throttle", rate=0.3, seed=7)
    for _ in range(10):
        assert wrapper.unwrap(made.wrapped, CONTEXT).plaintext == made.plaintext
    assert access.counts()["kms:Decrypt"] == 10
    assert access.factory.counter.attempts()["kms:Decrypt"] > 10  # some were retried


def test_latency_beyond_read_timeout_is_unavailable(
    make_access: MakeAccess, customer: Customer, local_aws: Any
) -> None:
    access = make_access(max_attempts=2, read_timeout_s=0.3)
    wrapper = access.provider.wrapper_for(customer.direct())
    made = wrapper.generate_data_key(CONTEXT)
    local_aws.set_fault(
        service="kms", operation="Decrypt", kind="latency", rate=1.0, latency_ms=1000
    )
    started = time.monotonic()
    with pytest.raises(KmsUnavailable):
        wrapper.unwrap(made.wrapped, CONTEXT)
    assert time.monotonic() - started < 5
    local_aws.clear_faults()
    assert wrapper.unwrap(made.wrapped, CONTEXT).plaintext == made.plaintext


def test_sts_throttled_during_chain(
    make_access: MakeAccess, customer: Customer, local_aws: Any
) -> None:
    access = make_access(max_attempts=2)
    wrapper = access.provider.wrapper_for(customer.chained())
    local_aws.set_fault(service="sts", operation="AssumeRole", kind="throttle", rate=1.0)
    with pytest.raises(KmsThrottled) as exc:
        wrapper.generate_data_key(CONTEXT)
    assert exc.value.operation == "sts:AssumeRole"
    assert access.purged == []
    local_aws.clear_faults()
    assert len(wrapper.generate_data_key(CONTEXT).plaintext) == 32


class FakeClock:
    """Starts at the real time (STS expirations are real) and moves only when told."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


def test_threaded_refresh_race_one_assume_role_per_refresh(
    make_access: MakeAccess, customer: Customer
) -> None:
    clock = FakeClock()
    # A 600 s cap makes the client-role expiry follow the fake clock (STS's own is real time).
    access = make_access(clock=clock, max_credential_age_s=600)
    config = customer.chained()
    wrapper = access.provider.wrapper_for(config)
    made = wrapper.generate_data_key(CONTEXT)
    credentials = access.provider.credentials_for(config)
    assert credentials is not None
    # vendor hop + client hop, once each, even for the first use by many threads
    assert access.counts()["sts:AssumeRole"] == 2

    def use() -> bytes:
        return wrapper.unwrap(made.wrapped, CONTEXT).plaintext

    # windows for a 600 s lifetime: advisory 300 s, mandatory 150 s before expiry
    for step, seconds in enumerate((330, 480, 330), start=1):  # advisory, mandatory, advisory
        clock.advance(seconds)
        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(lambda _: use(), range(24)))
        assert set(results) == {made.plaintext}
        assert credentials.refresh_count == 1 + step
    vendor_hop = access.provider.vendor_credentials
    assert vendor_hop is not None
    assert vendor_hop.refresh_count == 1  # its hour-long session is nowhere near a window
    assert access.counts()["sts:AssumeRole"] == 1 + credentials.refresh_count


def test_removed_trust_bites_within_max_credential_age(
    make_access: MakeAccess, customer: Customer
) -> None:
    clock = FakeClock()
    access = make_access(clock=clock, max_credential_age_s=300)
    wrapper = access.provider.wrapper_for(customer.chained())
    made = wrapper.generate_data_key(CONTEXT)
    customer.set_trust(external_id="byok-someone-else")  # the customer revokes the vendor
    clock.advance(301)
    with pytest.raises(RoleAssumptionDenied):
        wrapper.unwrap(made.wrapped, CONTEXT)
    assert access.purged == ["acme"]
    customer.set_trust(external_id=customer.external_id)  # and restores it
    again = access.provider.wrapper_for(customer.chained())
    assert again.unwrap(made.wrapped, CONTEXT).plaintext == made.plaintext
