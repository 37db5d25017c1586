"""Revocation: within the configured bound every read and write fails with the typed error,
the tenant shows KEY_UNAVAILABLE, and it recovers by itself when access returns.

The bound here is 2 s (the tenant-key cache TTL and the longest byok reuses a client-role
session). Each test measures the actual delay from the customer's action to the first
refusal and checks it against the bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from byok.errors import (
    CustomerAccessError,
    KeyAccessDenied,
    KeyDisabled,
    KeyPendingDeletion,
    RoleAssumptionDenied,
)
from byok.service.monitor import KeyMonitor
from byok.service.vendor import Vendor
from byok.store.schema import TenantState
from support.world import CustomerAccount, build_vendor, new_customer

BOUND_S = 2.0
SLACK_S = 1.0  # scheduling and HTTP round trips on a loaded 2-core machine


def _onboard(vendor: Vendor, customer: CustomerAccount, *, chained: bool) -> None:
    tenant = vendor.create_tenant("acme")
    if chained:
        role = customer.make_client_role(external_id=tenant.external_id, tenant="acme")
        customer.key_policy(role, tenant="acme")
        vendor.submit_config(
            "acme", mode="assume-role", key_arn=customer.key_arn,
            client_role_arn=role, external_id=tenant.external_id,
        )  # fmt: skip
    else:
        customer.key_policy(customer.vendor_role_arn, tenant="acme")
        vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    assert vendor.verify("acme").passed
    vendor.activate("acme")


def _refusal_delay(vendor: Vendor, revoke: Callable[[], None]) -> tuple[float, Exception]:
    vendor.put_document("acme", "doc", b"before")
    assert vendor.get_document("acme", "doc").read_all() == b"before"
    revoke()
    start = time.monotonic()
    while time.monotonic() - start < BOUND_S + 10:
        try:
            vendor.get_document("acme", "doc").read_all()
        except CustomerAccessError as exc:
            return time.monotonic() - start, exc
        time.sleep(0.05)
    raise AssertionError("access was never refused")


@pytest.fixture
def setup(local_aws: Any, database_url: str, tmp_path: Path) -> tuple[Vendor, CustomerAccount]:
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs", bound_s=BOUND_S)
    return vendor, new_customer(local_aws, role_arn)


REVOCATIONS: dict[str, tuple[bool, Callable[[CustomerAccount], None], type[Exception]]] = {
    "disable-key": (False, lambda c: c.kms().disable_key(KeyId=c.key_arn), KeyDisabled),
    "schedule-deletion": (
        False,
        lambda c: c.kms().schedule_key_deletion(KeyId=c.key_arn, PendingWindowInDays=7),
        KeyPendingDeletion,
    ),
    "remove-policy-statement": (False, lambda c: c.key_policy(), KeyAccessDenied),
    "delete-client-role": (True, lambda c: c.delete_client_role(), RoleAssumptionDenied),
}


@pytest.mark.localaws
@pytest.mark.parametrize("kind", sorted(REVOCATIONS))
def test_revocation_is_enforced_within_the_bound(
    kind: str, setup: tuple[Vendor, CustomerAccount], record_property: Any
) -> None:
    vendor, customer = setup
    chained, revoke, expected = REVOCATIONS[kind]
    _onboard(vendor, customer, chained=chained)
    delay, error = _refusal_delay(vendor, lambda: revoke(customer))
    record_property("revocation_delay_s", round(delay, 3))
    assert isinstance(error, expected), error
    assert delay <= BOUND_S + SLACK_S, f"{kind}: refused after {delay:.2f}s"
    assert error.tenant == "acme" and error.fix
    tenant = vendor.tenants.get("acme")
    assert tenant.state == TenantState.KEY_UNAVAILABLE
    assert tenant.state_detail is not None and type(error).__name__ in tenant.state_detail
    with pytest.raises(expected):  # writes are refused too, and nothing is stored
        vendor.put_document("acme", "new", b"after")
    assert [d.name for d in vendor.list_documents("acme").items] == ["doc"]


@pytest.mark.localaws
def test_access_returns_and_the_tenant_recovers_without_operator_action(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    vendor, customer = setup
    _onboard(vendor, customer, chained=False)
    _refusal_delay(vendor, lambda: customer.kms().disable_key(KeyId=customer.key_arn))
    assert vendor.tenants.get("acme").state == TenantState.KEY_UNAVAILABLE
    customer.kms().enable_key(KeyId=customer.key_arn)
    assert vendor.get_document("acme", "doc").read_all() == b"before"
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE


@pytest.mark.localaws
def test_key_monitor_detects_revocation_of_an_idle_tenant_and_recovery(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    vendor, customer = setup
    _onboard(vendor, customer, chained=False)
    vendor.put_document("acme", "doc", b"x")
    monitor = KeyMonitor(vendor, interval_s=0.2, holder="test")
    assert monitor.sweep().states == {"acme": TenantState.ACTIVE}
    customer.kms().disable_key(KeyId=customer.key_arn)
    result = monitor.sweep()
    assert result.changed == {"acme": (TenantState.ACTIVE, TenantState.KEY_UNAVAILABLE)}
    customer.kms().enable_key(KeyId=customer.key_arn)
    assert monitor.sweep().changed == {"acme": (TenantState.KEY_UNAVAILABLE, TenantState.ACTIVE)}


@pytest.mark.localaws
def test_only_one_process_runs_the_monitor(setup: tuple[Vendor, CustomerAccount]) -> None:
    vendor, customer = setup
    _onboard(vendor, customer, chained=False)
    first = KeyMonitor(vendor, interval_s=30, holder="process-1")
    second = KeyMonitor(vendor, interval_s=30, holder="process-2")
    assert first.sweep().ran
    assert not second.sweep().ran
    first.stop()  # releases the lease
    assert second.sweep().ran
