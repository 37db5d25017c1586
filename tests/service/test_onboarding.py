"""Onboarding: a tenant is created, configured, verified by named checks, then activated.

Both access options, against the local AWS over HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io

import pytest

from byok.errors import InvalidInput, StateError
from byok.store.schema import TenantState
from support.world import World


def _statuses(report: object) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}  # type: ignore[attr-defined]


@pytest.mark.localaws
def test_option_a_onboarding_then_documents_round_trip(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    tenant = vendor.create_tenant("acme", name="Acme Corp")
    assert tenant.state == TenantState.PENDING
    assert tenant.external_id.startswith("byok-")
    customer.key_policy(customer.vendor_role_arn, tenant="acme")
    vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    report = vendor.verify("acme")
    assert report.passed, report.to_dict()
    assert set(_statuses(report)) == {
        "region_allowed",
        "not_vendor_account",
        "not_bound_elsewhere",
        "key_reachable",
        "key_refuses_other_tenants",
        "key_owner",
        "key_enabled",
        "key_symmetric",
        "key_usage",
        "round_trip",
    }
    assert vendor.tenants.get("acme").state == TenantState.VERIFIED
    assert vendor.activate("acme").state == TenantState.ACTIVE

    body = b"quarterly numbers " * 1000
    head = vendor.put_document("acme", "reports/q3.txt", io.BytesIO(body))
    assert head.size > len(body)  # header and tags
    assert vendor.get_document("acme", "reports/q3.txt").read_all() == body
    stored = vendor.documents.get("acme", "reports/q3.txt").read()
    assert body[:32] not in stored  # ciphertext at rest
    assert vendor.audit.verify().ok


@pytest.mark.localaws
def test_option_b_onboarding_checks_the_external_id_is_required(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    tenant = vendor.create_tenant("globex")
    role_arn = customer.make_client_role(external_id=tenant.external_id, tenant="globex")
    customer.key_policy(role_arn, tenant="globex")
    vendor.submit_config(
        "globex", mode="assume-role", key_arn=customer.key_arn,
        client_role_arn=role_arn, external_id=tenant.external_id,
    )  # fmt: skip
    report = vendor.verify("globex")
    assert report.passed, report.to_dict()
    statuses = _statuses(report)
    assert statuses["role_assumable"] == statuses["external_id_required"] == "passed"
    vendor.activate("globex")
    vendor.put_document("globex", "a", b"hello")
    assert vendor.get_document("globex", "a").read_all() == b"hello"


@pytest.mark.localaws
def test_trust_policy_without_external_id_condition_is_refused_as_confused_deputy(
    world: World,
) -> None:
    vendor, customer = world.vendor, world.customer
    tenant = vendor.create_tenant("initech")
    role_arn = customer.make_client_role(external_id=None, tenant="initech")
    customer.key_policy(role_arn, tenant="initech")
    vendor.submit_config(
        "initech", mode="assume-role", key_arn=customer.key_arn,
        client_role_arn=role_arn, external_id=tenant.external_id,
    )  # fmt: skip
    report = vendor.verify("initech")
    assert not report.passed
    failed = report.failures[0]
    assert failed.name == "external_id_required"
    assert "WITHOUT the External ID" in failed.evidence
    assert failed.fix is not None and "sts:ExternalId" in failed.fix
    assert _statuses(report)["round_trip"] == "skipped"
    with pytest.raises(StateError):
        vendor.activate("initech")


@pytest.mark.localaws
def test_missing_key_policy_statement_fails_verification_with_the_fix(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("umbrella")
    customer.key_policy()  # no vendor statement
    vendor.submit_config("umbrella", mode="direct", key_arn=customer.key_arn)
    report = vendor.verify("umbrella")
    assert [c.name for c in report.failures] == ["key_reachable"]
    assert "KeyAccessDenied" in report.failures[0].evidence
    assert report.failures[0].fix is not None and "key policy" in report.failures[0].fix
    assert vendor.tenants.get("umbrella").state == TenantState.PENDING
    with pytest.raises(StateError):
        vendor.activate("umbrella")


@pytest.mark.localaws
def test_disabled_key_fails_the_key_enabled_check(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("hooli")
    customer.key_policy(customer.vendor_role_arn, tenant="hooli")
    customer.kms().disable_key(KeyId=customer.key_arn)
    vendor.submit_config("hooli", mode="direct", key_arn=customer.key_arn)
    report = vendor.verify("hooli")
    assert [c.name for c in report.failures] == ["key_enabled"]
    assert "Disabled" in report.failures[0].evidence


@pytest.mark.localaws
def test_external_id_not_issued_to_the_tenant_is_refused(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("acme")
    other = vendor.create_tenant("other")
    with pytest.raises(InvalidInput) as caught:
        vendor.submit_config(
            "acme", mode="assume-role", key_arn=customer.key_arn,
            client_role_arn=f"arn:aws:iam::{customer.account}:role/r",
            external_id=other.external_id,
        )  # fmt: skip
    assert caught.value.field == "external_id"


def test_alias_instead_of_key_arn_is_refused_before_any_aws_call(tmp_path: object) -> None:
    from byok.core.tenant_config import TenantKeyConfig

    with pytest.raises(InvalidInput) as caught:
        TenantKeyConfig.create("acme", "direct", "alias/acme-byok")
    assert caught.value.field == "key_arn"
    assert "key ARN" in caught.value.fix
