"""Key migration: a tenant moves to a new CMK without downtime, resumably, documents untouched.

A crash is simulated by a progress reporter that raises after N tenant keys (the job's state
lives only in the TK rows, so that is the same as a kill between two rows); a real SIGKILL
of a migrating process is in ``test_migration_kill.py``.
"""

from __future__ import annotations

import json

import pytest
from lifecycle_world import (
    TENANT,
    Crash,
    CrashAfter,
    new_chained_config,
    new_direct_config,
    onboard_direct,
    read_all,
    second_key,
    write_documents,
)

from byok.core.context import tenant_key_context
from byok.errors import IntegrityError, StateError
from byok.service.bootstrap import VENDOR_KMS_ACTIONS
from byok.service.key_routing import KeyRouting
from byok.service.lifecycle import migrate_tenant, old_keys_in_use
from byok.service.vendor import Vendor
from byok.store.lifecycle import migration_counts
from byok.store.schema import KeyConfigState
from support.world import World


def _blob_hashes(world: World) -> dict[str, str]:
    return {d.name: d.sha256 for d in world.vendor.list_documents(TENANT, limit=1000).items}


@pytest.mark.localaws
def test_migration_resumes_after_a_crash_and_the_old_key_can_be_disabled(world: World) -> None:
    vendor, old = world.vendor, world.customer
    onboard_direct(vendor, old)
    written = write_documents(vendor, 24)  # a TK every 2 documents: 12 TKs
    assert len(vendor.tenant_keys.list(TENANT)) == 12
    stored_before = _blob_hashes(world)
    new = second_key(old)
    version = new_direct_config(vendor, new)
    routing = KeyRouting(vendor)

    with pytest.raises(Crash):
        migrate_tenant(vendor, TENANT, to_version=version, progress=CrashAfter(5), routing=routing)
    assert migration_counts(vendor.store, TENANT, version) == (5, 12)
    assert vendor.tenants.active_config(TENANT).version == version  # type: ignore[union-attr]
    # Mid-way: rows under both keys; every document reads, and writes go to the new key.
    read_all(vendor, written)
    written |= write_documents(vendor, 2, prefix="during")
    assert vendor.tenant_keys.current(TENANT).key_arn == new.key_arn  # type: ignore[union-attr]
    read_all(vendor, written)

    vendor.factory.counter.reset()
    report = migrate_tenant(vendor, TENANT, to_version=version, routing=routing)
    assert report.complete and report.total == 13 and report.already_done == 6
    assert report.rewrapped == {"kms:ReEncrypt": 7}
    assert report.kms_calls == {"kms:ReEncrypt": 7}  # one call per TK, none per document
    assert report.old_key_arns == (old.key_arn,)
    assert old_keys_in_use(vendor, TENANT, old.key_arn) == 0
    assert {k.key_arn for k in vendor.tenant_keys.list(TENANT)} == {new.key_arn}

    # Documents were never re-encrypted: the same stored bytes.
    assert {n: h for n, h in _blob_hashes(world).items() if n in stored_before} == stored_before
    old.kms().disable_key(KeyId=old.key_arn)
    vendor.envelope.purge_tenant(TENANT)  # nothing cached: every TK comes from KMS again
    read_all(vendor, written)

    again = migrate_tenant(vendor, TENANT, to_version=version)  # idempotent
    assert again.complete and again.rewrapped == {} and again.kms_calls == {}


@pytest.mark.localaws
def test_migration_from_option_a_to_option_b(sqlite_world: World) -> None:
    vendor, old = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, old)
    written = write_documents(vendor, 8)  # 4 TKs
    new = second_key(old)
    version = new_chained_config(vendor, new)
    report = migrate_tenant(vendor, TENANT, to_version=version)
    # Different principals (vendor role / client role): Decrypt under the old key, Encrypt
    # under the new one, the TK only in memory.
    assert report.complete and report.rewrapped == {"kms:Decrypt+kms:Encrypt": 4}
    assert report.kms_calls["kms:Decrypt"] == 4 and report.kms_calls["kms:Encrypt"] == 4
    assert "kms:ReEncrypt" not in report.kms_calls
    old.key_policy()  # the customer removes the vendor from the old key altogether
    vendor.envelope.purge_tenant(TENANT)
    read_all(vendor, written)
    configs = {c.version: c for c in vendor.tenants.configs(TENANT)}
    assert configs[version].config.mode == "assume-role"
    assert configs[version].state == KeyConfigState.ACTIVE
    assert configs[1].state == KeyConfigState.RETIRED
    events = [e.event for e in vendor.audit.events(TENANT) if e.event.tk_id is not None]
    assert any(e.operation == "kms:Encrypt" and e.detail.get("purpose") == "key migration"
               for e in events)  # fmt: skip


@pytest.mark.localaws
def test_same_key_new_access_mode_is_relabelled_without_kms(sqlite_world: World) -> None:
    vendor, customer = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, customer)
    written = write_documents(vendor, 4)
    external_id = vendor.tenants.get(TENANT).external_id
    role = customer.make_client_role(external_id=external_id, tenant=TENANT)
    customer.key_policy(customer.vendor_role_arn, role, tenant=TENANT)
    stored = vendor.submit_config(
        TENANT, mode="assume-role", key_arn=customer.key_arn, client_role_arn=role,
        external_id=external_id,
    )  # fmt: skip
    assert vendor.verify(TENANT, stored.version).passed
    report = migrate_tenant(vendor, TENANT, to_version=stored.version)
    assert report.rewrapped == {"relabel": 2} and report.kms_calls == {}
    read_all(vendor, written)


@pytest.mark.localaws
def test_an_unverified_configuration_is_refused(sqlite_world: World) -> None:
    vendor, old = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, old)
    write_documents(vendor, 2)
    new = second_key(old)  # the vendor is not in its key policy: verification fails
    stored = vendor.submit_config(TENANT, mode="direct", key_arn=new.key_arn)
    with pytest.raises(StateError, match="PENDING"):
        migrate_tenant(vendor, TENANT, to_version=stored.version)
    assert not vendor.verify(TENANT, stored.version).passed
    with pytest.raises(StateError, match="FAILED"):
        migrate_tenant(vendor, TENANT, to_version=stored.version)
    assert vendor.tenants.active_config(TENANT).version == 1  # type: ignore[union-attr]


@pytest.mark.localaws
def test_vendor_reads_a_half_migrated_tenant_through_the_key_router(
    sqlite_world: World,
) -> None:
    """``Vendor.get_document`` unwraps each TK with the CMK that wraps its row
    (docs/OPERATIONS.md#key-migration): the active wrapper alone would be pinned to the new
    CMK and fail on TKs still under the old one."""
    vendor, old = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, old)
    written = write_documents(vendor, 4)
    version = new_direct_config(vendor, second_key(old))
    with pytest.raises(Crash):
        migrate_tenant(vendor, TENANT, to_version=version, progress=CrashAfter(1))
    first, last = sorted(written)[0], sorted(written)[-1]
    assert vendor.get_document(TENANT, first).read_all() == written[first]  # re-wrapped TK
    assert vendor.get_document(TENANT, last).read_all() == written[last]  # still old CMK
    active = vendor.routing.reader(TENANT).active
    vendor.envelope.purge_tenant(TENANT)  # make the next unwrap go to KMS
    with pytest.raises(IntegrityError):  # the active wrapper alone is pinned to the new CMK
        vendor.envelope.decrypt(TENANT, active, last, _stored(vendor, last))
    read_all(vendor, written)


def _stored(vendor: Vendor, name: str) -> bytes:
    with vendor.documents.get(TENANT, name) as reader:
        return reader.read()


@pytest.mark.localaws
def test_a_tk_added_under_the_old_key_after_activation_is_migrated_too(
    sqlite_world: World,
) -> None:
    """A process that has not yet seen the activation may add a TK wrapped by the old CMK;
    the store labels it with the new (active) version. It must still be re-wrapped."""
    vendor, old = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, old)
    written = write_documents(vendor, 2)
    old_wrapper = vendor.access.wrapper_for(vendor.tenants.config(TENANT, 1).config)
    version = new_direct_config(vendor, second_key(old))
    migrate_tenant(vendor, TENANT, to_version=version, settle_s=0)
    context = tenant_key_context(TENANT, "tk_stale")
    vendor.tenant_keys.add(
        TENANT, "tk_stale", key_arn=old.key_arn, key_config_version=version,
        wrapped=old_wrapper.generate_data_key(context).wrapped,
    )  # fmt: skip
    assert migration_counts(vendor.store, TENANT, version) == (1, 2)
    report = migrate_tenant(vendor, TENANT, to_version=version)
    assert report.complete and report.rewrapped == {"kms:ReEncrypt": 1}
    assert report.old_key_arns == (old.key_arn,)
    assert old_keys_in_use(vendor, TENANT, old.key_arn) == 0
    old.kms().disable_key(KeyId=old.key_arn)
    vendor.envelope.purge_tenant(TENANT)
    read_all(vendor, written)


@pytest.mark.localaws
def test_without_reencrypt_on_the_old_key_the_tks_are_decrypted_and_encrypted(
    sqlite_world: World,
) -> None:
    vendor, old = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, old)
    written = write_documents(vendor, 6)  # 3 TKs
    version = new_direct_config(vendor, second_key(old))
    # The customer has since narrowed the old key's grant: no kms:ReEncrypt* any more.
    actions = [a for a in VENDOR_KMS_ACTIONS if not a.startswith("kms:ReEncrypt")]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{old.account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": old.vendor_role_arn}, "Action": actions,
         "Resource": "*"},
    ]}  # fmt: skip
    old.kms().put_key_policy(KeyId=old.key_arn, PolicyName="default", Policy=json.dumps(policy))
    report = migrate_tenant(vendor, TENANT, to_version=version)
    assert report.complete and report.rewrapped == {"kms:Decrypt+kms:Encrypt": 3}
    assert report.kms_calls == {"kms:Decrypt": 3, "kms:Encrypt": 3, "kms:ReEncrypt": 1}
    old.kms().disable_key(KeyId=old.key_arn)
    vendor.envelope.purge_tenant(TENANT)
    read_all(vendor, written)
