"""Tenant <-> key binding, attacked through the service: no tenant can point the vendor at a
key its customer does not control (issue 11).

Each attack ran to ACTIVE on the old main; here each is refused by a named check (or the
store), and the refusal never names the other tenant.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from byok.errors import ApprovalRequired, Conflict, StateError
from byok.service.onboarding import OPERATOR, TENANT_ADMIN, Principal
from byok.service.overview import operator_overview
from byok.store.bindings import tenant_resources
from byok.store.schema import TenantState
from support.world import CustomerAccount, World, new_customer

pytestmark = pytest.mark.localaws


def _statuses(report: Any) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def _onboard_direct(world: World, tenant: str, customer: CustomerAccount) -> None:
    world.vendor.create_tenant(tenant)
    customer.key_policy(customer.vendor_role_arn, tenant=tenant)
    world.vendor.submit_config(tenant, mode="direct", key_arn=customer.key_arn)
    assert world.vendor.verify(tenant).passed
    world.vendor.activate(tenant)


def test_another_tenants_key_is_refused_and_the_refusal_names_no_tenant(
    world: World, local_aws: Any
) -> None:
    vendor = world.vendor
    _onboard_direct(world, "globex", world.customer)
    vendor.create_tenant("acme")
    vendor.submit_config("acme", mode="direct", key_arn=world.customer.key_arn)
    report = vendor.verify("acme")
    assert not report.passed
    [failed] = report.failures
    assert failed.name == "not_bound_elsewhere"
    assert "globex" not in json.dumps(report.to_dict())
    with pytest.raises(StateError):
        vendor.activate("acme")
    assert vendor.tenants.get("acme").state == TenantState.PENDING
    # The real owner is unaffected.
    vendor.put_document("globex", "a", b"globex data")
    assert vendor.get_document("globex", "a").read_all() == b"globex data"


def test_an_unbound_key_that_serves_any_tenant_is_refused_with_the_exact_fix(
    world: World,
) -> None:
    # The guide's unconditioned statement: the key would work for any tenant of the vendor.
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("acme")
    customer.key_policy(customer.vendor_role_arn)
    vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    report = vendor.verify("acme")
    statuses = _statuses(report)
    assert statuses["round_trip"] == "passed"
    assert statuses["key_refuses_other_tenants"] == "failed"
    [failed] = report.failures
    assert "kms:EncryptionContext:byok:tenant" in str(failed.fix) and '"acme"' in str(failed.fix)
    assert customer.vendor_role_arn in str(failed.fix)


def test_the_store_enforces_one_tenant_per_key_whatever_the_checks_said(world: World) -> None:
    vendor = world.vendor
    _onboard_direct(world, "globex", world.customer)
    vendor.create_tenant("acme")
    stored = vendor.submit_config("acme", mode="direct", key_arn=world.customer.key_arn)
    # A verification that raced past the check: the database still refuses the claim.
    with pytest.raises(Conflict) as refused:
        vendor.tenants.record_verification("acme", stored.version, {"forged": True}, passed=True)
    assert "globex" not in str(refused.value)
    assert vendor.tenants.config("acme", stored.version).state == "PENDING"
    assert tenant_resources(vendor.store, "acme") == []


def test_a_key_in_the_vendors_own_account_is_refused(world: World, local_aws: Any) -> None:
    vendor = world.vendor
    # Default key policy, created as the vendor's root: the vendor's role may use it.
    kms = local_aws.client("kms", world.vendor_account)
    key_arn = kms.create_key(Description="vendor's own key")["KeyMetadata"]["Arn"]
    vendor.create_tenant("acme")
    vendor.submit_config("acme", mode="direct", key_arn=key_arn)
    report = vendor.verify("acme")
    [failed] = report.failures
    assert failed.name == "not_vendor_account"
    assert world.vendor_account in failed.evidence and "your own AWS account" in str(failed.fix)


def test_a_client_role_trusting_any_byok_external_id_is_refused(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    tenant = vendor.create_tenant("hooli")
    role = customer.make_client_role(external_id=tenant.external_id, tenant="hooli")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": customer.vendor_role_arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringLike": {"sts:ExternalId": "byok-*"}},
        }],
    }  # fmt: skip
    customer.iam().update_assume_role_policy(
        RoleName=role.rsplit("/", 1)[1], PolicyDocument=json.dumps(trust)
    )
    customer.key_policy(role, tenant="hooli")
    vendor.submit_config(
        "hooli", mode="assume-role", key_arn=customer.key_arn, client_role_arn=role,
        external_id=tenant.external_id,
    )  # fmt: skip
    report = vendor.verify("hooli")
    statuses = _statuses(report)
    # A missing External ID is refused by StringLike too: only the wrong-ID probe catches it.
    assert statuses["role_assumable"] == statuses["external_id_required"] == "passed"
    assert statuses["external_id_exact"] == "failed"
    assert "StringEquals" in str(report.failures[0].fix)


def test_a_client_role_bound_to_another_tenant_is_refused(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    hooli = vendor.create_tenant("hooli")
    role = customer.make_client_role(external_id=hooli.external_id, tenant="hooli")
    customer.key_policy(role, tenant="hooli")
    vendor.submit_config(
        "hooli", mode="assume-role", key_arn=customer.key_arn, client_role_arn=role,
        external_id=hooli.external_id,
    )  # fmt: skip
    assert vendor.verify("hooli").passed
    assert len(tenant_resources(vendor.store, "hooli")) == 2  # the key and the client role
    mallory = vendor.create_tenant("mallory")
    vendor.submit_config(
        "mallory", mode="assume-role", key_arn=customer.key_arn, client_role_arn=role,
        external_id=mallory.external_id,
    )  # fmt: skip
    report = vendor.verify("mallory")
    assert report.failures[0].name == "not_bound_elsewhere"
    assert "key and client role" in report.failures[0].evidence


def test_an_offboarded_tenants_key_can_be_bound_again(world: World) -> None:
    from byok.service.offboarding import offboard_tenant

    vendor, customer = world.vendor, world.customer
    _onboard_direct(world, "globex", customer)
    offboard_tenant(vendor, "globex", confirm="globex")
    # The same customer comes back as a new tenant with its old key.
    _onboard_direct(world, "globex-2", customer)
    assert tenant_resources(vendor.store, "globex-2")


def _second_account_config(world: World, local_aws: Any, tenant: str) -> int:
    """A key in a NEW account (the attacker's), bound to ``tenant``: verifies fine."""
    attacker = new_customer(local_aws, world.customer.vendor_role_arn)
    attacker.key_policy(attacker.vendor_role_arn, tenant=tenant)
    admin = Principal("token:stolen", TENANT_ADMIN)
    stored = world.vendor.submit_config(
        tenant, mode="direct", key_arn=attacker.key_arn, principal=admin
    )
    assert world.vendor.verify(tenant, stored.version).passed
    return stored.version


def test_rerooting_to_another_account_needs_a_second_principal(
    world: World, local_aws: Any
) -> None:
    vendor = world.vendor
    _onboard_direct(world, "acme", world.customer)
    version = _second_account_config(world, local_aws, "acme")
    stolen = Principal("token:stolen", TENANT_ADMIN)
    with pytest.raises(ApprovalRequired) as refused:
        vendor.activate("acme", version, stolen)
    assert "approve" in refused.value.fix and f"key-configs/{version}/approve" in refused.value.fix
    assert vendor.tenants.active_config("acme").version == 1  # type: ignore[union-attr]
    with pytest.raises(ApprovalRequired):  # the submitter cannot approve its own
        vendor.approve("acme", version, Principal("token:stolen", OPERATOR))
    with pytest.raises(ApprovalRequired):  # a tenant-admin may not approve by default
        vendor.approve("acme", version, Principal("token:other-admin", TENANT_ADMIN))
    # The operator's view lists it as waiting (console operator page: "Approvals waiting").
    waiting = operator_overview(vendor, None).approvals
    assert [(c.config.tenant, c.version, c.submitted_by) for c in waiting] == [
        ("acme", version, "token:stolen")
    ]
    vendor.approve("acme", version, Principal("token:operator", OPERATOR))
    assert operator_overview(vendor, None).approvals == []
    assert vendor.activate("acme", version, stolen).state == TenantState.ACTIVE
    events = [(e.event.operation, e.event.outcome) for e in vendor.audit.events("acme")]
    assert ("tenant:activate", "ApprovalRequired") in events
    assert ("tenant:approve-config", "ok") in events


def test_same_account_key_moves_need_no_approval(world: World) -> None:
    vendor = world.vendor
    _onboard_direct(world, "acme", world.customer)
    key = world.customer.kms().create_key(Description="second key")["KeyMetadata"]["Arn"]
    second = CustomerAccount(
        world.customer.local_aws, world.customer.account, key, world.customer.vendor_role_arn
    )
    second.key_policy(second.vendor_role_arn, tenant="acme")
    stored = vendor.submit_config(
        "acme", mode="direct", key_arn=key, principal=Principal("token:a", TENANT_ADMIN)
    )
    assert vendor.verify("acme", stored.version).passed
    vendor.activate("acme", stored.version, Principal("token:a", TENANT_ADMIN))
    assert vendor.tenants.active_config("acme").version == stored.version  # type: ignore[union-attr]
