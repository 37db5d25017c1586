"""Revocation of one scope, one period or one access reason by the customer's own key policy.

The customer adds a Deny lever to its key policy (the statements ``byok customer policy
--deny-scope/--deny-period/--deny-reason`` prints) in the local AWS. Within the revocation
bound (2 s here) the refused use fails with ``UseRefused`` naming exactly what is refused;
every other scope, period and reason keeps working, the tenant stays ACTIVE with the refused
use listed, and the customer's CloudTrail shows the refusals. When the customer lifts the lever
the key monitor lists nothing again and the use works. Each test measures the delay from the
policy change to the first refusal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from byok.core.context import period_of
from byok.core.key_use import CUSTOMER_REQUEST, KeyUse
from byok.core.policy.templates.levers import AccessLevers
from byok.errors import IntegrityError, InvalidInput, UseRefused
from byok.service.monitor import KeyMonitor
from byok.service.scopes import configure_scopes
from byok.service.vendor import Vendor
from byok.store.schema import TenantKeyCopyRow, TenantKeyRow, TenantState
from support.world import CustomerAccount, build_vendor, new_customer, onboard_direct

pytestmark = pytest.mark.localaws

BOUND_S = 2.0
SLACK_S = 1.0  # scheduling and HTTP round trips on a loaded 2-core machine
CUSTOMER = KeyUse(CUSTOMER_REQUEST)
SUPPORT = KeyUse("vendor-support", ticket="SUP-42")


@pytest.fixture
def setup(local_aws: Any, database_url: str, tmp_path: Path) -> tuple[Vendor, CustomerAccount]:
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs", bound_s=BOUND_S)
    customer = new_customer(local_aws, role_arn)
    onboard_direct(vendor, customer, "acme")
    configure_scopes(vendor, "acme", rules=[("legal/", "legal")])
    return vendor, customer


def _read(vendor: Vendor, name: str, use: KeyUse = CUSTOMER) -> bytes:
    return vendor.get_document("acme", name, use).read_all()


def _refusal_delay(read: Callable[[], object]) -> tuple[float, UseRefused]:
    start = time.monotonic()
    while time.monotonic() - start < BOUND_S + 10:
        try:
            read()
        except UseRefused as exc:
            return time.monotonic() - start, exc
        time.sleep(0.05)
    raise AssertionError("the use was never refused")


def _deny(customer: CustomerAccount, levers: AccessLevers | None) -> None:
    customer.key_policy(customer.vendor_role_arn, tenant="acme", levers=levers)


def _refused_in_cloudtrail(local_aws: Any, customer: CustomerAccount) -> list[dict[str, Any]]:
    events = local_aws.lookup_events(customer.account, resource_name=customer.key_arn)
    return [e for e in events if e.get("errorCode")]


def test_a_denied_scope_is_refused_within_the_bound_and_the_rest_keeps_working(
    setup: tuple[Vendor, CustomerAccount], local_aws: Any, record_property: Any
) -> None:
    vendor, customer = setup
    vendor.put_document("acme", "legal/contract.txt", b"privileged", CUSTOMER)
    vendor.put_document("acme", "notes/todo.txt", b"ordinary", CUSTOMER)
    assert _read(vendor, "legal/contract.txt") == b"privileged"

    _deny(customer, AccessLevers(deny_scopes=("legal",)))
    delay, error = _refusal_delay(lambda: _read(vendor, "legal/contract.txt"))
    record_property("scope_revocation_delay_s", round(delay, 3))
    assert delay <= BOUND_S + SLACK_S, f"refused after {delay:.2f}s"
    assert error.refused == {"scope": "legal"} and error.tenant == "acme"
    assert "scope 'legal'" in str(error) and error.fix
    with pytest.raises(UseRefused):  # new writes in the scope too, and nothing is stored
        vendor.put_document("acme", "legal/new.txt", b"x", CUSTOMER)
    assert vendor.list_documents("acme", prefix="legal/").items[0].name == "legal/contract.txt"
    assert len(vendor.list_documents("acme", prefix="legal/").items) == 1

    # Everything else keeps working, and the tenant stays ACTIVE with the scope listed.
    assert _read(vendor, "notes/todo.txt") == b"ordinary"
    vendor.put_document("acme", "notes/more.txt", b"more", CUSTOMER)
    assert _read(vendor, "notes/more.txt", SUPPORT) == b"more"
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE
    listed = vendor.policies.get("acme").refused
    assert [(e["dimension"], e["value"]) for e in listed] == [("scope", "legal")]
    assert _refused_in_cloudtrail(local_aws, customer)  # the refusals are the customer's record

    # The customer lifts the lever: the monitor lists nothing and the scope works again.
    _deny(customer, None)
    KeyMonitor(vendor, interval_s=30, holder="test").sweep()
    assert vendor.policies.get("acme").refused == ()
    time.sleep(2.1)  # past the refusal memo
    assert _read(vendor, "legal/contract.txt") == b"privileged"


def test_a_denied_period_is_refused_and_other_periods_keep_working(
    setup: tuple[Vendor, CustomerAccount], record_property: Any
) -> None:
    vendor, customer = setup
    configure_scopes(vendor, "acme", period_unit="hour")
    hour = period_of(time.time(), "hour")
    vendor.put_document("acme", "notes/hourly.txt", b"this hour", CUSTOMER)
    assert _read(vendor, "notes/hourly.txt") == b"this hour"

    _deny(customer, AccessLevers(deny_periods=(hour,)))
    delay, error = _refusal_delay(lambda: _read(vendor, "notes/hourly.txt"))
    record_property("period_revocation_delay_s", round(delay, 3))
    assert delay <= BOUND_S + SLACK_S, f"refused after {delay:.2f}s"
    assert error.refused == {"period": hour}

    # A key of another period (the day: a denied hour does not deny its day) still works.
    configure_scopes(vendor, "acme", period_unit="day")
    vendor.put_document("acme", "notes/daily.txt", b"this day", CUSTOMER)
    assert _read(vendor, "notes/daily.txt") == b"this day"
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE


def test_denying_vendor_support_refuses_support_reads_only(
    setup: tuple[Vendor, CustomerAccount], local_aws: Any, record_property: Any
) -> None:
    vendor, customer = setup
    vendor.put_document("acme", "notes/a.txt", b"customer data", CUSTOMER)
    assert _read(vendor, "notes/a.txt", SUPPORT) == b"customer data"

    _deny(customer, AccessLevers(deny_reasons=("vendor-support",)))
    delay, error = _refusal_delay(lambda: _read(vendor, "notes/a.txt", SUPPORT))
    record_property("reason_revocation_delay_s", round(delay, 3))
    assert delay <= BOUND_S + SLACK_S, f"refused after {delay:.2f}s"
    assert error.refused == {"reason": "vendor-support"}
    assert _read(vendor, "notes/a.txt") == b"customer data"  # the customer's own calls
    assert _read(vendor, "notes/a.txt", KeyUse()) == b"customer data"  # vendor service
    # A TK made while support is denied has no support copy; the rest of it works.
    vendor.put_document("acme", "legal/b.txt", b"new scope, new key", CUSTOMER)
    assert _read(vendor, "legal/b.txt") == b"new scope, new key"
    with pytest.raises(UseRefused):
        _read(vendor, "legal/b.txt", SUPPORT)
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE

    # Lifted: the missing copy is made at the first support read (audited, in CloudTrail).
    _deny(customer, None)
    KeyMonitor(vendor, interval_s=30, holder="test").sweep()
    time.sleep(2.1)  # past the refusal memo
    assert _read(vendor, "legal/b.txt", SUPPORT) == b"new scope, new key"
    reasons = {
        e["requestParameters"]["encryptionContext"].get("byok:reason")
        for e in local_aws.lookup_events(customer.account, resource_name=customer.key_arn)
        if e["eventName"] in ("Decrypt", "Encrypt", "GenerateDataKey") and not e.get("errorCode")
        and "encryptionContext" in (e.get("requestParameters") or {})
    }  # fmt: skip
    assert {"customer-request", "vendor-service", "vendor-support"} <= reasons


def test_support_reads_name_a_ticket_and_every_read_is_audited_with_its_reason(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    vendor, _ = setup
    vendor.put_document("acme", "notes/a.txt", b"x", CUSTOMER)
    with pytest.raises(InvalidInput) as missing:
        KeyUse("vendor-support")
    assert missing.value.field == "ticket"
    _read(vendor, "notes/a.txt", SUPPORT)
    _read(vendor, "notes/a.txt")
    gets = [e.event for e in vendor.audit.events("acme") if e.event.operation == "document:get"]
    assert [g.detail for g in gets] == [
        {"reason": "vendor-support", "ticket": "SUP-42"},
        {"reason": "customer-request"},
    ]
    put = next(e.event for e in vendor.audit.events("acme") if e.event.operation == "document:put")
    assert put.detail == {"reason": "customer-request", "scope": "default"}


def test_a_strict_key_policy_now_lets_every_byok_use_through(
    setup: tuple[Vendor, CustomerAccount],
) -> None:
    """--require-context refuses any use without scope, period and reason: byok states all
    three on every TK it makes, in verification and in the monitor's probes."""
    vendor, customer = setup
    _deny(customer, AccessLevers(deny_reasons=("vendor-support",), require_context=True))
    vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    report = vendor.verify("acme")
    assert report.passed, report
    vendor.put_document("acme", "legal/x.txt", b"strict", CUSTOMER)
    assert _read(vendor, "legal/x.txt") == b"strict"
    assert vendor.probe_key("acme", unwrap=True) is None
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE


def test_edited_key_rows_cannot_sidestep_a_lever(setup: tuple[Vendor, CustomerAccount]) -> None:
    """Someone who can write the database moves a tenant key to another scope (its row's
    recorded context) or swaps two per-reason copies: reads fail closed (integrity error,
    before or at KMS), never decrypt under a reason or scope the customer did not allow."""
    vendor, _ = setup
    vendor.put_document("acme", "legal/nda.txt", b"privileged", CUSTOMER)
    assert _read(vendor, "legal/nda.txt", SUPPORT) == b"privileged"  # both copies exist now
    tk_id = vendor.head_document("acme", "legal/nda.txt").tk_id
    with vendor.store.write() as session:
        copies = {
            row.reason: row for row in session.scalars(
                select(TenantKeyCopyRow).where(TenantKeyCopyRow.tk_id == tk_id)
            )
        }  # fmt: skip
        support, customer = copies["vendor-support"], copies["customer-request"]
        support.wrapped, customer.wrapped = customer.wrapped, support.wrapped
    vendor.envelope.purge_tenant("acme")
    for use in (CUSTOMER, SUPPORT):
        with pytest.raises(IntegrityError):
            _read(vendor, "legal/nda.txt", use)

    with vendor.store.write() as session:
        row = session.scalars(select(TenantKeyRow).where(TenantKeyRow.tk_id == tk_id)).one()
        row.kms_context = {**(row.kms_context or {}), "byok:scope": "default"}
        row.scope = "default"
    vendor.envelope.purge_tenant("acme")
    with pytest.raises(IntegrityError):
        _read(vendor, "legal/nda.txt", KeyUse())
