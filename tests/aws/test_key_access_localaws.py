"""Option A and Option B against the local AWS over HTTP: success and every refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_world import CLIENT_SID, VENDOR_SID, Access, Customer, MakeAccess

from byok.aws.credentials import AssumeRoleRefresher, role_session_name
from byok.core.keywrap import KeyWrapper
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import (
    IntegrityError,
    KeyAccessDenied,
    KeyDisabled,
    KeyNotFound,
    KeyPendingDeletion,
    RoleAssumptionDenied,
)

pytestmark = pytest.mark.localaws

CONTEXT = {"tenant": "acme", "tk": "tk-1"}


def _round_trip(access: Access, config: TenantKeyConfig) -> None:
    wrapper = access.provider.wrapper_for(config)
    assert isinstance(wrapper, KeyWrapper)
    made = wrapper.generate_data_key(CONTEXT)
    assert len(made.plaintext) == 32 and made.wrapped and made.request_id
    assert made.key_arn == config.key_arn
    got = wrapper.unwrap(made.wrapped, CONTEXT)
    assert got.plaintext == made.plaintext and got.request_id
    moved = wrapper.rewrap(made.wrapped, CONTEXT, wrapper)
    assert moved.plaintext == b"" and moved.request_id
    assert wrapper.unwrap(moved.wrapped, CONTEXT).plaintext == made.plaintext
    description = wrapper.describe_key()
    assert description.key_arn == config.key_arn and description.key_state == "Enabled"
    assert description.account == config.key_account
    assert description.key_spec == "SYMMETRIC_DEFAULT"
    assert description.key_usage == "ENCRYPT_DECRYPT"
    description.ensure_usable(config.tenant)


def test_option_a_round_trip_counts_calls(make_access: MakeAccess, customer: Customer) -> None:
    access = make_access()
    config = customer.direct()
    access.provider.wrapper_for(config)
    assert access.counts() == {}  # deferred: nothing called before first use
    _round_trip(access, config)
    counts = access.counts()
    assert counts["kms:GenerateDataKey"] == 1 and counts["kms:ReEncrypt"] == 1
    assert counts["kms:Decrypt"] == 2 and counts["kms:DescribeKey"] == 1
    assert counts["sts:AssumeRole"] == 1  # document-storage-role, once
    assert access.purged == []


def test_option_b_round_trip_chains_two_assume_roles(
    make_access: MakeAccess, customer: Customer
) -> None:
    access = make_access()
    config = customer.chained()
    _round_trip(access, config)
    assert access.counts()["sts:AssumeRole"] == 2  # vendor role, then client role, once each
    # A second tenant reuses the vendor hop: one more AssumeRole only.
    _round_trip(access, customer.chained(tenant="globex"))
    assert access.counts()["sts:AssumeRole"] == 3


def test_customer_trail_shows_session_name_context_request_id_and_user_agent(
    make_access: MakeAccess, customer: Customer
) -> None:
    access = make_access()
    config = customer.chained(tenant="acme-corp")
    wrapper = access.provider.wrapper_for(config)
    made = wrapper.generate_data_key(CONTEXT)
    got = wrapper.unwrap(made.wrapped, CONTEXT)
    events = customer.local_aws.lookup_events(customer.account, event_name="Decrypt")
    ours = [e for e in events if e["requestID"] == got.request_id]
    assert len(ours) == 1
    event = ours[0]
    assert "byok-acme-corp" in json.dumps(event["userIdentity"])
    assert customer.role_arn.split("/")[-1] in json.dumps(event["userIdentity"])
    assert event["requestParameters"]["encryptionContext"] == CONTEXT
    assert "byok/" in event["userAgent"]
    assumed = customer.local_aws.lookup_events(customer.account, event_name="AssumeRole")
    names = {e["requestParameters"]["roleSessionName"] for e in assumed}
    assert role_session_name("acme-corp") in names
    credentials = access.provider.credentials_for(config)
    assert credentials is not None and credentials.account_id == customer.account


def test_wrappers_cached_per_tenant_and_version(
    make_access: MakeAccess, customer: Customer
) -> None:
    access = make_access()
    first = access.provider.wrapper_for(customer.chained())
    assert access.provider.wrapper_for(customer.chained()) is first
    second = access.provider.wrapper_for(customer.chained(version=2))
    assert second is not first
    second.generate_data_key(CONTEXT)
    first_creds = access.provider.credentials_for(customer.chained(version=2))
    assert first_creds is not None and first_creds.refresh_count == 1


def test_decrypt_is_pinned_to_the_configured_key(
    make_access: MakeAccess, customer: Customer, local_aws: Any, vendor: Any
) -> None:
    from aws_world import make_customer

    access = make_access()
    other = make_customer(local_aws, vendor)
    foreign = access.provider.wrapper_for(other.direct(tenant="other"))
    made = foreign.generate_data_key(CONTEXT)
    ours = access.provider.wrapper_for(customer.direct())
    with pytest.raises(IntegrityError):
        ours.unwrap(made.wrapped, CONTEXT)
    with pytest.raises(IntegrityError):
        foreign.unwrap(made.wrapped, {**CONTEXT, "tk": "tk-2"})
    assert access.purged == []


@pytest.mark.parametrize("external_id", ["byok-wrong-external-id", None])
def test_wrong_or_missing_external_id_is_refused(
    make_access: MakeAccess, customer: Customer, external_id: str | None
) -> None:
    access = make_access()
    if external_id is None:
        # Missing: the vendor asks without an ExternalId (the confused-deputy probe).
        refresher = AssumeRoleRefresher(
            sts=lambda: access.factory.client(
                "sts", "us-east-1", access.provider.vendor_credentials
            ),
            role_arn=customer.role_arn,
            session_name="byok-acme",
            tenant="acme",
        )
        with pytest.raises(RoleAssumptionDenied) as exc:
            refresher()
    else:
        wrapper = access.provider.wrapper_for(customer.chained(external_id=external_id))
        with pytest.raises(RoleAssumptionDenied) as exc:
            wrapper.generate_data_key(CONTEXT)
        assert access.purged == ["acme"]
    assert exc.value.operation == "sts:AssumeRole" and exc.value.tenant == "acme"
    assert "External ID" in exc.value.message and customer.role_arn in exc.value.message
    assert "sts:ExternalId" in exc.value.fix
    assert customer.external_id not in str(exc.value)


def test_client_role_deleted(make_access: MakeAccess, customer: Customer) -> None:
    access = make_access()
    wrapper = access.provider.wrapper_for(customer.chained())
    wrapper.generate_data_key(CONTEXT)
    customer.delete_client_role()
    fresh = make_access().provider.wrapper_for(customer.chained())
    with pytest.raises(RoleAssumptionDenied):
        fresh.generate_data_key(CONTEXT)


@pytest.mark.parametrize(("mode", "sid"), [("direct", VENDOR_SID), ("assume-role", CLIENT_SID)])
def test_key_policy_statement_removed(
    make_access: MakeAccess, customer: Customer, mode: str, sid: str
) -> None:
    access = make_access()
    config = customer.direct() if mode == "direct" else customer.chained()
    wrapper = access.provider.wrapper_for(config)
    made = wrapper.generate_data_key(CONTEXT)
    customer.remove_key_statement(sid)
    with pytest.raises(KeyAccessDenied) as exc:
        wrapper.unwrap(made.wrapped, CONTEXT)
    assert exc.value.tenant == "acme" and exc.value.operation == "kms:Decrypt"
    assert config.key_arn in exc.value.message
    principal = customer.vendor.role_arn if mode == "direct" else customer.role_arn
    assert principal in exc.value.fix
    assert access.purged == ["acme"]


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_key_disabled_then_enabled_again(
    make_access: MakeAccess, customer: Customer, mode: str
) -> None:
    access = make_access()
    config = customer.direct() if mode == "direct" else customer.chained()
    wrapper = access.provider.wrapper_for(config)
    made = wrapper.generate_data_key(CONTEXT)
    customer.kms().disable_key(KeyId=customer.key_arn)
    with pytest.raises(KeyDisabled) as exc:
        wrapper.unwrap(made.wrapped, CONTEXT)
    assert "EnableKey" in exc.value.fix
    assert access.purged == ["acme"]
    customer.kms().enable_key(KeyId=customer.key_arn)
    again = access.provider.wrapper_for(config)
    assert again.unwrap(made.wrapped, CONTEXT).plaintext == made.plaintext


def test_key_pending_deletion(make_access: MakeAccess, customer: Customer) -> None:
    access = make_access()
    wrapper = access.provider.wrapper_for(customer.direct())
    made = wrapper.generate_data_key(CONTEXT)
    customer.kms().schedule_key_deletion(KeyId=customer.key_arn, PendingWindowInDays=7)
    with pytest.raises(KeyPendingDeletion) as exc:
        wrapper.unwrap(made.wrapped, CONTEXT)
    assert "CancelKeyDeletion" in exc.value.fix
    assert access.purged == ["acme"]


def test_wrong_region(make_access: MakeAccess, customer: Customer) -> None:
    access = make_access()
    elsewhere = customer.key_arn.replace("us-east-1", "us-west-2")
    config = customer.direct(key_arn=elsewhere, allowed_regions=("us-east-1", "us-west-2"))
    with pytest.raises(KeyNotFound) as exc:
        access.provider.wrapper_for(config).generate_data_key(CONTEXT)
    assert "us-west-2" in exc.value.message


def test_key_in_account_that_does_not_exist(make_access: MakeAccess, customer: Customer) -> None:
    access = make_access()
    ghost = customer.key_arn.replace(customer.account, "999999999999")
    with pytest.raises((KeyNotFound, KeyAccessDenied)) as exc:
        access.provider.wrapper_for(customer.direct(key_arn=ghost)).generate_data_key(CONTEXT)
    assert ghost in exc.value.message
    assert access.purged == ["acme"]
