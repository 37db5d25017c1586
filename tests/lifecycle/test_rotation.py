"""Tenant-key rotation: by count (the envelope's policy), forced (``byok tenant rotate-tk``),
and the customer's own KMS key rotation, which needs nothing from the vendor."""

from __future__ import annotations

import pytest
from lifecycle_world import TENANT, onboard_direct, read_all, write_documents

from byok.service.lifecycle import rotate_tenant_key
from support.world import World


@pytest.mark.localaws
def test_rotation_by_count_and_forced_rotation(sqlite_world: World) -> None:
    vendor = sqlite_world.vendor
    onboard_direct(vendor, sqlite_world.customer)
    written = write_documents(vendor, 6)  # policy: a new TK every 2 documents
    keys = vendor.tenant_keys.list(TENANT)
    assert len(keys) == 3
    assert {vendor.head_document(TENANT, n).tk_id for n in written} == {k.tk_id for k in keys}

    vendor.factory.counter.reset()
    report = rotate_tenant_key(vendor, TENANT)
    # One tenant key: GenerateDataKey, and its customer-request copy.
    assert vendor.factory.counts() == {"kms:GenerateDataKey": 1, "kms:Encrypt": 1}
    assert report.retired_tk_id == keys[-1].tk_id and report.tk_id not in {k.tk_id for k in keys}
    current = vendor.tenant_keys.current(TENANT)
    assert current is not None and current.tk_id == report.tk_id
    assert vendor.tenant_keys.get(TENANT, keys[-1].tk_id).retired

    written |= write_documents(vendor, 1, prefix="after")
    assert vendor.head_document(TENANT, "after-000").tk_id == report.tk_id
    vendor.envelope.purge_tenant(TENANT)
    read_all(vendor, written)  # old TKs stay readable
    assert any(e.event.operation == "tenant:rotate-tk" for e in vendor.audit.events(TENANT))


@pytest.mark.localaws
def test_customer_kms_key_rotation_needs_nothing_from_the_vendor(sqlite_world: World) -> None:
    vendor, customer = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, customer)
    written = write_documents(vendor, 3, prefix="before")
    kms = customer.kms()
    kms.enable_key_rotation(KeyId=customer.key_arn)
    assert kms.get_key_rotation_status(KeyId=customer.key_arn)["KeyRotationEnabled"]
    kms.rotate_key_on_demand(KeyId=customer.key_arn)  # as far as the local AWS models it
    vendor.envelope.purge_tenant(TENANT)
    written |= write_documents(vendor, 3, prefix="after")
    vendor.envelope.purge_tenant(TENANT)
    read_all(vendor, written)
    assert vendor.tenant_keys.current(TENANT).key_arn == customer.key_arn  # type: ignore[union-attr]
