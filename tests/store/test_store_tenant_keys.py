"""Wrapped tenant keys: current / get / add / count / retire, per tenant."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

import pytest

from byok.core.tenant_config import TenantKeyConfig
from byok.errors import Conflict, InvalidInput, NotFound
from byok.store import SqlTenantKeyStore, Store, TenantRepository

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def keys(store: Store, tenants: TenantRepository) -> SqlTenantKeyStore:
    for tenant in ("acme", "globex"):
        tenants.create(tenant, name=tenant, external_id=f"byok-{secrets.token_hex(8)}")
        tenants.submit_config(TenantKeyConfig(tenant=tenant, mode="direct", key_arn=KEY_ARN))
    return SqlTenantKeyStore(store)


def _add(keys: SqlTenantKeyStore, tenant: str, tk_id: str, **extra: bool) -> None:
    keys.add(tenant, tk_id, key_arn=KEY_ARN, key_config_version=1, wrapped=b"\x01" * 180, **extra)


def test_newest_unretired_key_is_current(keys: SqlTenantKeyStore) -> None:
    assert keys.current("acme") is None
    _add(keys, "acme", "tk-1")
    _add(keys, "acme", "tk-2")
    current = keys.current("acme")
    assert current is not None
    assert (current.tk_id, current.wrapped, current.retired) == ("tk-2", b"\x01" * 180, False)
    keys.retire("acme", "tk-2")
    current = keys.current("acme")
    assert current is not None and current.tk_id == "tk-1"
    assert keys.get("acme", "tk-2").retired is True
    assert [k.tk_id for k in keys.list("acme")] == ["tk-1", "tk-2"]


def test_add_can_retire_the_others(keys: SqlTenantKeyStore) -> None:
    _add(keys, "acme", "tk-1")
    _add(keys, "acme", "tk-2", retire_others=True)
    assert [(k.tk_id, k.retired) for k in keys.list("acme")] == [("tk-1", True), ("tk-2", False)]


def test_keys_are_invisible_to_other_tenants(keys: SqlTenantKeyStore) -> None:
    _add(keys, "acme", "tk-1")
    with pytest.raises(NotFound) as caught:
        keys.get("globex", "tk-1")
    assert "acme" not in str(caught.value)
    assert keys.current("globex") is None
    _add(keys, "globex", "tk-1")  # the same TK id in another tenant is another key
    assert keys.get("globex", "tk-1").tenant == "globex"


def test_created_at_defaults_to_the_clock_or_is_given(keys: SqlTenantKeyStore) -> None:
    made = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    keys.add("acme", "tk-1", key_arn=KEY_ARN, key_config_version=1, wrapped=b"w", created_at=made)
    _add(keys, "acme", "tk-2")
    assert keys.get("acme", "tk-1").created_at == made
    assert keys.get("acme", "tk-2").created_at > made


def test_wrapped_key_is_not_in_repr(keys: SqlTenantKeyStore) -> None:
    _add(keys, "acme", "tk-1")
    assert "wrapped" not in repr(keys.get("acme", "tk-1"))


def test_add_refuses_duplicates_and_unknown_configs(keys: SqlTenantKeyStore) -> None:
    _add(keys, "acme", "tk-1")
    with pytest.raises(Conflict):
        _add(keys, "acme", "tk-1")
    with pytest.raises(Conflict):
        keys.add("acme", "tk-9", key_arn=KEY_ARN, key_config_version=5, wrapped=b"x")
    with pytest.raises(Conflict):
        keys.add("nobody", "tk-9", key_arn=KEY_ARN, key_config_version=1, wrapped=b"x")
    with pytest.raises(InvalidInput):
        keys.add("acme", "", key_arn=KEY_ARN, key_config_version=1, wrapped=b"x")
    with pytest.raises(InvalidInput):
        keys.add("acme", "tk-9", key_arn=KEY_ARN, key_config_version=1, wrapped=b"")


def test_document_counter_is_atomic_under_threads(keys: SqlTenantKeyStore) -> None:
    _add(keys, "acme", "tk-1")
    seen: list[int] = []

    def count() -> None:
        for _ in range(25):
            seen.append(keys.count_document("acme", "tk-1"))

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 101))
    assert keys.get("acme", "tk-1").documents_encrypted == 100
    assert keys.count_document("acme", "tk-1", 5) == 105
    with pytest.raises(NotFound):
        keys.count_document("globex", "tk-1")
