"""Files holding metadata, keys, exports or plaintext are 0600 in 0700 folders, whatever the
umask (finding 6 of issue 12): the SQLite database and its -wal/-shm, blob folders, the
export bundle and the customer's decrypted output."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_world import TENANT, customer_factory, onboard_direct, write_documents
from sqlalchemy import text

from byok.portable import decrypt_export
from byok.private_files import make_private_dir, open_private
from byok.service.export import export_tenant
from byok.store.database import Store
from support.world import World


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask (files 0644, folders 0755 unless byok says otherwise)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _loose(root: Path) -> list[str]:
    """Every file or folder under ``root`` that another local user could read."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root)}: {oct(mode)}")
    return found


def test_a_new_sqlite_store_and_its_wal_are_private(umask_022: None, tmp_path: Path) -> None:
    folder = tmp_path / "home" / "deeper"
    store = Store.open(f"sqlite:///{folder / 'byok.db'}")
    try:
        with store.write() as session:  # WAL mode: -wal and -shm exist while open
            session.execute(text("SELECT 1"))
        names = {p.name for p in folder.iterdir()}
        assert {"byok.db", "byok.db-wal", "byok.db-shm"} <= names, names
        assert _loose(tmp_path / "home") == []
    finally:
        store.close()


def test_an_existing_loose_database_is_tightened(umask_022: None, tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store.open(f"sqlite:///{path}").close()
    os.chmod(path, 0o644)
    Store.open(f"sqlite:///{path}").close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_private_helpers_ignore_the_umask(umask_022: None, tmp_path: Path) -> None:
    folder = make_private_dir(tmp_path / "a" / "b")
    with open_private(folder / "f") as sink:
        sink.write(b"x")
    assert _loose(tmp_path / "a") == []


@pytest.mark.localaws
def test_blobs_export_and_decrypted_output_are_private(
    umask_022: None, local_aws: Any, sqlite_world: World, tmp_path: Path
) -> None:
    vendor = sqlite_world.vendor
    onboard_direct(vendor, sqlite_world.customer)
    write_documents(vendor, 3, prefix="nested/dir/")
    bundle = tmp_path / "bundle"
    export_tenant(vendor, TENANT, bundle)
    out = tmp_path / "plain"
    decrypt_export(bundle, out, customer_factory(local_aws, sqlite_world.customer))
    assert any(out.rglob("*")) and any(bundle.rglob("*"))
    for root in (tmp_path / "blobs", bundle, out):
        assert _loose(root) == [], root
    db = tmp_path / "byok.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    vendor.store.close()
    shutil.rmtree(out)
