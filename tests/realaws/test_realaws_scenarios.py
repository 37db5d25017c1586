"""The BYOK scenarios, written once, run on every backend (tests/realaws/conftest.py).

On the local AWS (``local``, ``rehearsal``) they run in ``make test``; on real AWS (``real``)
only with ``BYOK_AWS_CUSTOMER_PROFILE`` and ``BYOK_AWS_VENDOR_PROFILE`` (docs/REAL-AWS.md).
The customer's documents come from the toolkit's templates (``byok.core.policy.templates``),
so real AWS also checks that what byok tells customers to paste works.

Eventual consistency is explicit: a step that follows a policy change goes through
``backend.settle`` (one attempt locally, retried for up to ``settle_s`` on real AWS), and a
revocation must bite within ``bound + settle + slack``. Each scenario first puts back the
key state it needs (scenarios share at most two keys per run).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest
from realaws_backends import Backend

from byok.errors import CustomerAccessError, KeyAccessDenied, KeyDisabled, StateError
from byok.service.vendor import Vendor
from byok.service.verification import VerificationReport
from byok.store.schema import TenantState


def _statuses(report: VerificationReport) -> dict[str, str]:
    return {check.name: check.status for check in report.checks}


def _verified(
    backend: Backend,
    vendor: Vendor,
    tenant: str,
    settled: Callable[[VerificationReport], bool] | None = None,
) -> VerificationReport:
    """``vendor.verify`` once AWS has applied the customer's change (the customer would
    simply run verification again)."""
    return backend.settle(
        lambda: vendor.verify(tenant),
        until=settled or (lambda report: report.passed),
        what=f"verification of {tenant} passes after the customer's change",
    )


def _onboard_direct(
    backend: Backend, vendor: Vendor, tenant: str
) -> tuple[str, VerificationReport]:
    """Option A end to end: create, key policy names the vendor role, verify, activate."""
    vendor.create_tenant(tenant)
    key_arn = backend.ready_key(backend.setup_for(tenant, "direct"))
    vendor.submit_config(tenant, mode="direct", key_arn=key_arn)
    report = _verified(backend, vendor, tenant)
    assert report.passed, report.to_dict()
    assert vendor.activate(tenant).state == TenantState.ACTIVE
    return key_arn, report


def _refusal(
    backend: Backend, vendor: Vendor, tenant: str, revoke: Callable[[], None]
) -> tuple[float, CustomerAccessError]:
    """Revoke, then read until refused; the delay and the error."""
    revoke()
    start = time.monotonic()
    while time.monotonic() - start < backend.timing.revocation_deadline_s + 5:
        try:
            vendor.get_document(tenant, "doc").read_all()
        except CustomerAccessError as exc:
            return time.monotonic() - start, exc
        time.sleep(0.1)
    raise AssertionError(f"access was never refused ({backend.timing})")


def _assert_revoked(
    backend: Backend,
    vendor: Vendor,
    tenant: str,
    delay: float,
    error: CustomerAccessError,
    expected: type[CustomerAccessError],
) -> None:
    assert isinstance(error, expected), error
    deadline = backend.timing.revocation_deadline_s
    assert delay <= deadline, f"refused after {delay:.1f}s, bound+settle+slack {deadline:g}s"
    assert error.tenant == tenant and error.fix
    state = vendor.tenants.get(tenant)  # read before any other call can succeed again
    assert state.state == TenantState.KEY_UNAVAILABLE, state
    attempts = iter(range(1_000))

    def write() -> BaseException | None:
        try:
            vendor.put_document(tenant, f"after-{next(attempts)}", b"after")
        except CustomerAccessError as exc:
            return exc
        return None  # a KMS node that has not seen the change yet (real AWS only)

    refused = backend.settle(write, until=lambda e: e is not None, what="writes are refused")
    assert isinstance(refused, expected), refused


def test_option_a_onboarding_then_documents_round_trip(backend: Backend, vendor: Vendor) -> None:
    key_arn, report = _onboard_direct(backend, vendor, "acme")
    assert report.key_arn == key_arn
    assert set(_statuses(report)) == {
        "region_allowed", "not_vendor_account", "not_bound_elsewhere", "key_reachable",
        "key_owner", "key_enabled", "key_symmetric", "key_usage", "round_trip",
        "key_refuses_other_tenants",
    }  # fmt: skip

    body = b"quarterly numbers " * 4000  # several frames
    head = vendor.put_document("acme", "reports/q3.txt", io.BytesIO(body))
    assert head.size > len(body)
    assert vendor.get_document("acme", "reports/q3.txt").read_all() == body
    stored = vendor.documents.get("acme", "reports/q3.txt").read()
    assert body[:32] not in stored  # ciphertext at rest
    assert vendor.audit.verify().ok


def test_option_b_onboarding_through_the_chained_client_role(
    backend: Backend, vendor: Vendor
) -> None:
    tenant = vendor.create_tenant("globex")
    setup = backend.setup_for(
        "globex", "assume-role", external_id=tenant.external_id, role=backend.new_role_name()
    )
    role_arn = backend.create_client_role(setup)
    key_arn = backend.ready_key(setup)
    vendor.submit_config(
        "globex", mode="assume-role", key_arn=key_arn,
        client_role_arn=role_arn, external_id=tenant.external_id,
    )  # fmt: skip
    report = _verified(backend, vendor, "globex")
    assert report.passed, report.to_dict()
    statuses = _statuses(report)
    assert statuses["role_assumable"] == statuses["external_id_required"] == "passed"
    vendor.activate("globex")
    vendor.put_document("globex", "a", b"hello")
    assert vendor.get_document("globex", "a").read_all() == b"hello"


def test_trust_policy_without_the_external_id_condition_is_refused(
    backend: Backend, vendor: Vendor
) -> None:
    tenant = vendor.create_tenant("initech")
    setup = backend.setup_for(
        "initech", "assume-role", external_id=tenant.external_id, role=backend.new_role_name()
    )
    role_arn = backend.create_client_role(setup, require_external_id=False)
    key_arn = backend.ready_key(setup)
    vendor.submit_config(
        "initech", mode="assume-role", key_arn=key_arn,
        client_role_arn=role_arn, external_id=tenant.external_id,
    )  # fmt: skip
    # Settled once the role can be assumed at all: from then on the negative check (assume
    # WITHOUT the External ID) must fail closed. A new role that nobody can assume yet
    # would make that check pass vacuously, so it is not trusted before.
    report = _verified(
        backend, vendor, "initech", settled=lambda r: _statuses(r).get("role_assumable") == "passed"
    )
    assert not report.passed
    assert [c.name for c in report.failures] == ["external_id_required"], report.to_dict()
    failed = report.failures[0]
    assert "WITHOUT the External ID" in failed.evidence
    assert failed.fix is not None and "sts:ExternalId" in failed.fix
    assert _statuses(report)["round_trip"] == "skipped"
    with pytest.raises(StateError):
        vendor.activate("initech")


def test_disabled_key_is_refused_within_the_bound_and_recovers_when_enabled(
    backend: Backend, vendor: Vendor
) -> None:
    key_arn, _ = _onboard_direct(backend, vendor, "hooli")
    vendor.put_document("hooli", "doc", b"before")
    assert vendor.get_document("hooli", "doc").read_all() == b"before"

    delay, error = _refusal(backend, vendor, "hooli", lambda: backend.disable_key(key_arn))
    _assert_revoked(backend, vendor, "hooli", delay, error, KeyDisabled)

    backend.enable_key(key_arn)
    back = backend.settle(
        lambda: _read_or_none(vendor, "hooli", "doc"),
        until=lambda body: body is not None,
        what="reads work again after kms:EnableKey",
    )
    assert back == b"before"
    assert vendor.tenants.get("hooli").state == TenantState.ACTIVE


def test_removed_key_policy_statement_is_refused_within_the_bound(
    backend: Backend, vendor: Vendor
) -> None:
    _onboard_direct(backend, vendor, "umbrella")
    vendor.put_document("umbrella", "doc", b"before")
    assert vendor.get_document("umbrella", "doc").read_all() == b"before"
    setup = backend.setup_for("umbrella", "direct")

    delay, error = _refusal(backend, vendor, "umbrella", lambda: backend.remove_key_user(setup))
    _assert_revoked(backend, vendor, "umbrella", delay, error, KeyAccessDenied)
    assert error.fix is not None and "key policy" in error.fix


def _read_or_none(vendor: Vendor, tenant: str, name: str) -> bytes | None:
    try:
        return vendor.get_document(tenant, name).read_all()
    except CustomerAccessError:
        return None
