"""Read failover to a multi-Region replica: when the key's Region is unavailable, byok decrypts
with the related replica in another allowed Region; a refusal never fails over."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_world import ADMIN_SID, Customer, Vendor, vendor_settings

from byok.aws.access import KeyAccessProvider
from byok.aws.clients import ClientFactory
from byok.aws.kms import replica_arn
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import KeyDisabled, TransientKmsError

pytestmark = pytest.mark.localaws

CONTEXT = {"tenant": "acme", "tk": "tk-1"}
PRIMARY, SECOND = "us-east-1", "eu-west-1"


@pytest.fixture
def mrk_customer(customer: Customer) -> Customer:
    """The customer's key replaced by a multi-Region key (same policy) replicated to SECOND."""
    replicate = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{customer.account}:root"},
        "Action": "kms:ReplicateKey",
        "Resource": "*",
    }
    statements = [*customer.key_statements.values(), replicate]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    created = customer.kms().create_key(MultiRegion=True, Policy=policy)
    customer.key_arn = created["KeyMetadata"]["Arn"]
    customer.kms().replicate_key(KeyId=customer.key_arn, ReplicaRegion=SECOND, Policy=policy)
    return customer


def provider(local_aws: Any, vendor: Vendor, regions: tuple[str, ...]) -> KeyAccessProvider:
    factory = ClientFactory(vendor_settings(local_aws, vendor, max_attempts=1))
    return KeyAccessProvider(factory, allowed_regions=regions)


def take_region_away(local_aws: Any, vendor: Vendor, region: str) -> None:
    local_aws.set_fault(
        service="kms", kind="error5xx", status=503, account=vendor.account, region=region
    )


def test_reads_fail_over_to_the_replica_when_the_primary_region_is_gone(
    local_aws: Any, vendor: Vendor, mrk_customer: Customer
) -> None:
    config = TenantKeyConfig.create("acme", "direct", mrk_customer.key_arn)
    wrapper = provider(local_aws, vendor, (PRIMARY, SECOND)).wrapper_for(config)
    made = wrapper.generate_data_key(CONTEXT)
    take_region_away(local_aws, vendor, PRIMARY)
    try:
        with pytest.raises(TransientKmsError):  # writes need the key's own Region
            wrapper.generate_data_key(CONTEXT)
        got = wrapper.unwrap(made.wrapped, CONTEXT)
        assert got.plaintext == made.plaintext
    finally:
        local_aws.clear_faults()
    events = local_aws.lookup_events(mrk_customer.account, region=SECOND, event_name="Decrypt")
    assert events[0]["resources"][0]["ARN"] == replica_arn(mrk_customer.key_arn, SECOND)


def test_no_failover_outside_the_allowed_regions_or_for_single_region_keys(
    local_aws: Any, vendor: Vendor, mrk_customer: Customer
) -> None:
    only_primary = provider(local_aws, vendor, (PRIMARY,))
    wrapper = only_primary.wrapper_for(
        TenantKeyConfig.create("acme", "direct", mrk_customer.key_arn)
    )
    made = wrapper.generate_data_key(CONTEXT)
    take_region_away(local_aws, vendor, PRIMARY)
    try:
        with pytest.raises(TransientKmsError):
            wrapper.unwrap(made.wrapped, CONTEXT)
    finally:
        local_aws.clear_faults()


def test_a_refusal_in_the_primary_region_never_fails_over(
    local_aws: Any, vendor: Vendor, mrk_customer: Customer
) -> None:
    config = TenantKeyConfig.create("acme", "direct", mrk_customer.key_arn)
    wrapper = provider(local_aws, vendor, (PRIMARY, SECOND)).wrapper_for(config)
    made = wrapper.generate_data_key(CONTEXT)
    mrk_customer.kms().disable_key(KeyId=mrk_customer.key_arn)  # the customer revokes
    with pytest.raises(KeyDisabled):
        wrapper.unwrap(made.wrapped, CONTEXT)
    assert ADMIN_SID in mrk_customer.key_statements


def test_a_replica_that_refuses_is_not_used(
    local_aws: Any, vendor: Vendor, mrk_customer: Customer
) -> None:
    config = TenantKeyConfig.create("acme", "direct", mrk_customer.key_arn)
    wrapper = provider(local_aws, vendor, (PRIMARY, SECOND)).wrapper_for(config)
    made = wrapper.generate_data_key(CONTEXT)
    mrk_customer.kms(SECOND).disable_key(KeyId=replica_arn(mrk_customer.key_arn, SECOND))
    take_region_away(local_aws, vendor, PRIMARY)
    try:
        with pytest.raises(TransientKmsError):
            wrapper.unwrap(made.wrapped, CONTEXT)
    finally:
        local_aws.clear_faults()


def test_replica_arn() -> None:
    arn = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    assert replica_arn(arn, "eu-west-1") == arn.replace("us-east-1", "eu-west-1")
