"""KMS trouble during document writes: bounded retries, a typed error, nothing half-written,
and recovery by itself when the fault stops (issue: key access, faults)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from byok.errors import KmsThrottled, KmsUnavailable, TransientKmsError
from byok.store.schema import TenantState
from support.world import World


@pytest.fixture
def active(world: World, local_aws: Any) -> Iterator[World]:
    world.vendor.create_tenant("acme")
    world.customer.key_policy(world.customer.vendor_role_arn, tenant="acme")
    world.vendor.submit_config("acme", mode="direct", key_arn=world.customer.key_arn)
    assert world.vendor.verify("acme").passed
    world.vendor.activate("acme")
    world.vendor.put_document("acme", "existing", b"kept")
    try:
        yield world
    finally:
        local_aws.clear_faults()


@pytest.mark.localaws
@pytest.mark.parametrize(
    ("kind", "expected"), [("throttle", KmsThrottled), ("error5xx", KmsUnavailable),
                           ("reset", KmsUnavailable)],
)  # fmt: skip
def test_kms_fault_fails_the_write_cleanly_and_recovers(
    active: World, local_aws: Any, kind: str, expected: type[TransientKmsError]
) -> None:
    vendor = active.vendor
    vendor.envelope.purge_tenant("acme")  # the next write must go to KMS
    before = vendor.factory.counter.attempts().get("kms:Decrypt", 0)
    local_aws.set_fault(service="kms", kind=kind, rate=1.0)
    with pytest.raises(expected) as caught:
        vendor.put_document("acme", "new", b"payload")
    attempts = vendor.factory.counter.attempts().get("kms:Decrypt", 0) - before
    assert attempts == vendor.factory.settings.max_attempts  # bounded retries, then give up
    assert caught.value.tenant == "acme" and "Retry" in caught.value.fix
    # Nothing half-written: the failed document is not visible, the old one is intact.
    assert [d.name for d in vendor.list_documents("acme").items] == ["existing"]
    # AWS trouble is not the customer revoking: the tenant stays ACTIVE.
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE
    local_aws.clear_faults()
    vendor.put_document("acme", "new", b"payload")
    assert vendor.get_document("acme", "new").read_all() == b"payload"
    assert vendor.get_document("acme", "existing").read_all() == b"kept"


@pytest.mark.localaws
def test_call_counter_counts_failed_calls_and_the_cache_counts_hits(
    active: World, local_aws: Any
) -> None:
    vendor = active.vendor
    hits = vendor.cache.hits
    assert vendor.get_document("acme", "existing").read_all() == b"kept"
    assert vendor.cache.hits > hits  # served from the tenant-key cache
    vendor.envelope.purge_tenant("acme")
    misses = vendor.cache.misses
    before = vendor.factory.counter.errors().get("kms:Decrypt", 0)
    local_aws.set_fault(service="kms", kind="throttle", rate=1.0)
    with pytest.raises(KmsThrottled):
        vendor.get_document("acme", "existing")
    assert vendor.cache.misses > misses
    assert vendor.factory.counter.errors().get("kms:Decrypt", 0) == before + 1
