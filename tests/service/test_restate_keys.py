"""Tenant keys made before scopes and reasons are restated, so a strict key policy reads them.

A TK made before byok stated scope, period and reason unwraps only under ``{byok:tenant,
byok:tk}``: the customer's ``--require-context`` refuses it (the whole key is denied for that
read). ``restate_tenant_keys`` re-wraps it under a context stating all three (documents
untouched); then the strict policy reads every document, and a second run changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from byok.core.bound_context import BoundContext
from byok.core.context import tenant_key_context
from byok.core.key_use import CUSTOMER_REQUEST, KeyUse
from byok.core.policy.templates.levers import AccessLevers
from byok.core.raw_keys import TenantKey
from byok.core.stream import encrypt_bytes
from byok.errors import KeyAccessDenied
from byok.service.documents import new_write_id
from byok.service.restate import restate_tenant_keys
from byok.service.vendor import Vendor
from byok.store.schema import TenantKeyCopyRow, TenantKeyRow, TenantState
from support.world import CustomerAccount, build_vendor, new_customer, onboard_direct

pytestmark = pytest.mark.localaws

CUSTOMER = KeyUse(CUSTOMER_REQUEST)
STRICT = AccessLevers(require_context=True)


@pytest.fixture
def setup(local_aws: Any, database_url: str, tmp_path: Path) -> tuple[Vendor, CustomerAccount]:
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs")
    customer = new_customer(local_aws, role_arn)
    onboard_direct(vendor, customer, "acme")
    return vendor, customer


def _make_legacy(vendor: Vendor, tk_id: str) -> None:
    """Rewrite a TK's row as byok wrote it before scopes (context {byok:tenant, byok:tk}) and
    store ``old.txt`` as byok wrote documents then (no scope or period in the header)."""
    key = vendor.tenant_keys.get("acme", tk_id)
    wrapper = vendor.active_wrapper("acme")
    plain = wrapper.unwrap(key.wrapped, key.context).plaintext
    legacy = wrapper.encrypt(plain, tenant_key_context("acme", tk_id)).wrapped
    stored, seal = vendor.tenant_keys.seal("acme", tk_id, legacy)
    with vendor.store.write() as session:
        row = session.scalars(select(TenantKeyRow).where(TenantKeyRow.tk_id == tk_id)).one()
        row.wrapped, row.seal, row.kms_context, row.scope = stored, seal, None, None
        session.execute(delete(TenantKeyCopyRow).where(TenantKeyCopyRow.tk_id == tk_id))
    vendor.envelope.purge_tenant("acme")
    write_id = new_write_id()
    blob = encrypt_bytes(b"written before scopes", TenantKey("acme", tk_id, plain),
                         BoundContext("acme", "old.txt", write_id))  # fmt: skip
    vendor.documents.put("acme", "old.txt", [bytes(blob)], tk_id=tk_id, write_id=write_id)


def test_restated_keys_read_under_a_strict_policy(setup: tuple[Vendor, CustomerAccount]) -> None:
    vendor, customer = setup
    head = vendor.put_document("acme", "seed.txt", b"makes the tenant key", CUSTOMER)
    assert head.tk_id is not None
    _make_legacy(vendor, head.tk_id)
    assert vendor.get_document("acme", "old.txt", CUSTOMER).read_all() == b"written before scopes"

    customer.key_policy(customer.vendor_role_arn, tenant="acme", levers=STRICT)
    vendor.envelope.purge_tenant("acme")
    with pytest.raises(KeyAccessDenied):  # the old context states nothing: refused
        vendor.get_document("acme", "old.txt", CUSTOMER)
    with pytest.raises(KeyAccessDenied) as refused:  # and restating needs the old context
        restate_tenant_keys(vendor, "acme")
    assert "--require-context" in refused.value.fix

    customer.key_policy(customer.vendor_role_arn, tenant="acme")  # as the fix says
    vendor.check_key("acme", unwrap=True)
    report = restate_tenant_keys(vendor, "acme")
    assert report.restated == (head.tk_id,) and report.lost_races == 0
    key = vendor.tenant_keys.get("acme", head.tk_id)
    assert key.context["byok:reason"] == "vendor-service" and key.context["byok:scope"] == "default"

    customer.key_policy(customer.vendor_role_arn, tenant="acme", levers=STRICT)
    vendor.envelope.purge_tenant("acme")
    for use in (CUSTOMER, KeyUse(), KeyUse("vendor-support", ticket="SUP-9")):
        assert vendor.get_document("acme", "old.txt", use).read_all() == b"written before scopes"
    assert vendor.tenants.get("acme").state == TenantState.ACTIVE
    again = restate_tenant_keys(vendor, "acme")
    assert again.restated == () and again.already == 1
    operations = [e.event.operation for e in vendor.audit.events("acme")]
    assert operations.count("tenant:restate-keys") == 2
