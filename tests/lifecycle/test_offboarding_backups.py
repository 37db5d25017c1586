"""Offboarding is true against backups (issue 17): the composite wrap.

A database backup and the blobs, saved before offboarding and restored after it, decrypt
nothing, even though the customer's key still grants the vendor: every wrapped tenant key in
the backup is sealed under the tenant's vendor key, which offboarding destroyed (it lives in
BYOK_VENDOR_KEY_DIR, outside the database). On the old main the restored backup decrypted.
"""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from lifecycle_world import TENANT, onboard_direct, write_documents
from sqlalchemy import select, update

from byok.core.context import tenant_key_context
from byok.errors import ByokError, StateError
from byok.service.offboarding import offboard_tenant
from byok.service.vendor import Vendor
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store
from byok.store.schema import TenantKeyRow
from support.world import World

pytestmark = pytest.mark.localaws


def _backup(vendor: Vendor, into: Path) -> Path:
    """What a backup job saves: the SQLite database (online backup API) and the blob folder."""
    into.mkdir()
    source = sqlite3.connect(str(vendor.store.engine.url.database))
    target = sqlite3.connect(str(into / "byok.db"))
    with target:
        source.backup(target)
    source.close()
    target.close()
    blobs = vendor.documents.blobs
    assert isinstance(blobs, FilesystemBlobStore)
    shutil.copytree(blobs.root, into / "blobs")
    return into


def _restore(vendor: Vendor, backup: Path, into: Path) -> Vendor:
    """A vendor over a restored copy of ``backup`` (same settings, AWS identity, key folder)."""
    shutil.copytree(backup, into)
    store = Store.open(f"sqlite:///{into / 'byok.db'}")
    blobs = FilesystemBlobStore(into / "blobs")
    return Vendor(vendor.settings, store=store, blobs=blobs, factory=vendor.factory)


def test_a_backup_restored_after_offboarding_decrypts_nothing(
    sqlite_world: World, tmp_path: Path
) -> None:
    """The backup is SQLite's online backup API (the key path is the same on PostgreSQL)."""
    world = sqlite_world
    vendor = world.vendor
    onboard_direct(vendor, world.customer)
    written = write_documents(vendor, 3)
    backup = _backup(vendor, tmp_path / "backup")
    before = _restore(vendor, backup, tmp_path / "restored-before")  # the control: it works
    assert {n: before.get_document(TENANT, n).read_all() for n in written} == written
    before.store.close()
    folder = vendor.settings.resolved_vendor_key_dir
    assert [stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()] == [0o600]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    report = offboard_tenant(vendor, TENANT, confirm=TENANT)
    assert report.vendor_key_destroyed and list(folder.iterdir()) == []
    assert "disable or schedule deletion" in report.customer_action
    assert world.customer.key_arn in report.customer_action
    assert "backup" in report.still_decryptable

    restored = _restore(vendor, backup, tmp_path / "restored-after")
    config = restored.tenants.active_config(TENANT)
    assert config is not None
    wrapper = restored.access.wrapper_for(config.config)
    wrapper.describe_key()  # the customer's key still grants the vendor
    for name in written:
        with pytest.raises(StateError, match="vendor key"):
            restored.get_document(TENANT, name).read_all()
    with restored.store.read() as session:  # the raw rows: sealed, so KMS has nothing to open
        rows = session.execute(select(TenantKeyRow.tk_id, TenantKeyRow.wrapped)).all()
    assert rows
    for tk_id, stored in rows:
        with pytest.raises(ByokError):
            wrapper.unwrap(stored, tenant_key_context(TENANT, tk_id))
    restored.store.close()


def test_tenant_keys_stored_before_the_composite_wrap_are_sealed_on_first_read(
    world: World,
) -> None:
    vendor = world.vendor
    onboard_direct(vendor, world.customer)
    written = write_documents(vendor, 2)
    for key in vendor.tenant_keys.list(TENANT):  # as an older byok stored them: unsealed
        with vendor.store.write() as session:
            session.execute(
                update(TenantKeyRow)
                .where(TenantKeyRow.tenant_id == TENANT, TenantKeyRow.tk_id == key.tk_id)
                .values(wrapped=key.wrapped, seal=0)
            )
    vendor.forget_tenant(TENANT)
    for name, body in written.items():  # they keep working ...
        assert vendor.get_document(TENANT, name).read_all() == body
    with vendor.store.read() as session:  # ... and are sealed in place by that first read
        seals = session.scalars(select(TenantKeyRow.seal).where(TenantKeyRow.tenant_id == TENANT))
        assert set(seals) == {1}
    vendor.forget_tenant(TENANT)
    assert vendor.get_document(TENANT, next(iter(written))).read_all() == next(
        iter(written.values())
    )
