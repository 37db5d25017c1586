"""Deny is not outage, across nodes: a refusal seen by one node purges the tenant on all.

Two vendor services ("nodes") share one database, each with its own store and signal
listener, as two ``byok serve`` processes would. The customer removes the vendor from the
key policy; the first node that asks KMS is refused, and the *other* node, which still holds
the tenant's key in its cache and never asks KMS, drops it at once (through the signal),
long before its TTL. Another tenant's cached key stays.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from byok.core.keycache import CacheKey
from byok.errors import ERROR_TABLE, KeyAccessDenied, KmsThrottled, mapping_for
from byok.service.vendor import Vendor
from byok.store.database import Store
from byok.store.schema import TenantState
from support.world import CustomerAccount, build_vendor, new_customer, onboard_direct

BOUND_S = 300.0  # long: only the signal can explain a purge within seconds
WAIT_S = 10.0


onboard = onboard_direct


def cached(vendor: Vendor, tenant: str) -> bool:
    config = vendor.tenants.active_config(tenant)
    assert config is not None
    return any(
        CacheKey(tenant, key.tk_id, config.config.key_arn) in vendor.cache
        for key in vendor.tenant_keys.list(tenant)
    )


@pytest.fixture
def nodes(
    local_aws: Any, database_url: str, tmp_path: Path
) -> Iterator[tuple[Vendor, Vendor, CustomerAccount, CustomerAccount]]:
    first, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs", bound_s=BOUND_S)
    second = Vendor(
        first.settings, store=Store.open(database_url), blobs=first.documents.blobs,
        factory=first.factory,
    )  # fmt: skip
    for node in (first, second):
        node.store.signals.start()
    yield first, second, new_customer(local_aws, role_arn), new_customer(local_aws, role_arn)
    for node in (first, second):
        node.store.close()


@pytest.mark.localaws
def test_a_deny_on_one_node_purges_the_tenant_on_every_node(
    nodes: tuple[Vendor, Vendor, CustomerAccount, CustomerAccount],
) -> None:
    first, second, acme, other = nodes
    onboard(first, acme, "acme")
    onboard(first, other, "other")
    for tenant in ("acme", "other"):
        first.put_document(tenant, "doc", b"secret")
        assert second.get_document(tenant, "doc").read_all() == b"secret"
        assert cached(second, tenant)
    acme.key_policy()  # the customer removes the vendor's statement
    first.forget_tenant("acme")  # the first node must ask KMS now
    with pytest.raises(KeyAccessDenied):
        first.get_document("acme", "doc").read_all()
    started = time.monotonic()
    while cached(second, "acme") and time.monotonic() - started < WAIT_S:
        time.sleep(0.02)
    assert not cached(second, "acme"), "the second node still holds the revoked tenant's key"
    assert second.cluster.purges >= 1
    assert cached(second, "other")  # other tenants are untouched
    assert second.get_document("other", "doc").read_all() == b"secret"
    with pytest.raises(KeyAccessDenied):
        second.get_document("acme", "doc").read_all()
    assert second.tenants.get("acme").state == TenantState.KEY_UNAVAILABLE


def test_every_error_class_has_a_stable_code_in_its_json() -> None:
    codes = {mapping.code for mapping in ERROR_TABLE.values()}
    assert len(codes) == len(ERROR_TABLE)  # one code per class, never shared
    assert KeyAccessDenied("x").to_dict()["code"] == "denied"
    assert KmsThrottled("x").to_dict()["code"] == "throttled"
    assert mapping_for(KmsThrottled("x")).http_status == 503
