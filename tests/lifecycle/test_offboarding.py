"""Offboarding: confirmation, crypto-shredding first (a kept copy of a blob is useless), then
every blob and row is deleted; an audit event and a report of what was destroyed."""

from __future__ import annotations

from pathlib import Path

import pytest
from lifecycle_world import TENANT, onboard_direct, write_documents
from sqlalchemy import func, select

from byok.errors import IntegrityError, InvalidInput, NotFound, StateError
from byok.service.lifecycle import offboard_tenant
from byok.store.schema import DocumentRow, KeyConfigState, TenantKeyRow, TenantState
from support.world import World


def _rows(world: World, table: type[DocumentRow] | type[TenantKeyRow]) -> int:
    with world.vendor.store.read() as session:
        return int(session.scalar(select(func.count()).where(table.tenant_id == TENANT)) or 0)


@pytest.mark.localaws
def test_offboarding_crypto_shreds_then_deletes_everything(world: World, tmp_path: Path) -> None:
    vendor = world.vendor
    onboard_direct(vendor, world.customer)
    written = write_documents(vendor, 6)
    vendor.put_document(TENANT, "doc-000", b"a second version")  # REPLACED rows go too
    backup = {n: vendor.documents.get(TENANT, n).read() for n in written}  # a blob backup
    keys = [k.tk_id for k in vendor.tenant_keys.list(TENANT)]
    config = vendor.tenants.active_config(TENANT)
    assert config is not None

    with pytest.raises(InvalidInput, match="confirm"):
        offboard_tenant(vendor, TENANT, confirm="acme-typo")
    assert vendor.tenants.get(TENANT).state == TenantState.ACTIVE

    report = offboard_tenant(vendor, TENANT, confirm=TENANT)
    assert report.previous_state == "ACTIVE"
    assert sorted(report.tk_ids) == sorted(keys) and report.key_arns == (world.customer.key_arn,)
    assert report.document_rows == 6 and report.blobs == 6 and report.configs_retired == (1,)
    assert vendor.tenants.get(TENANT).state == TenantState.OFFBOARDED
    assert _rows(world, TenantKeyRow) == 0 and _rows(world, DocumentRow) == 0
    assert list(vendor.documents.blobs.list(f"{TENANT}/")) == []
    assert {c.state for c in vendor.tenants.configs(TENANT)} == {KeyConfigState.RETIRED}

    operations = [e.event.operation for e in vendor.audit.events(TENANT)]
    assert operations[-2:] == ["tenant:crypto-shred", "tenant:offboard"]
    shred = [e.event for e in vendor.audit.events(TENANT)][-2]
    assert sorted(shred.detail["tk_ids"]) == sorted(keys)
    assert vendor.audit.verify().ok

    # The customer's key still works, but nothing can decrypt the backup: the TKs are gone.
    wrapper = vendor.access.wrapper_for(config.config)
    for name, blob in backup.items():
        with pytest.raises(IntegrityError):
            vendor.envelope.decrypt(TENANT, wrapper, name, blob)
    with pytest.raises((StateError, NotFound)):  # NotFound while the vendor's 1 s state cache
        vendor.get_document(TENANT, "doc-001")  # still says ACTIVE: the rows are gone
    with pytest.raises(StateError):
        vendor.put_document(TENANT, "new", b"x")

    again = offboard_tenant(vendor, TENANT, confirm=TENANT)  # safe to repeat
    assert again.previous_state == "OFFBOARDED" and again.tk_ids == () and again.blobs == 0
