"""fsck: what a crash can leave (orphans, pending removals) and what it must only report."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from byok.store import DocumentRepository, FilesystemBlobStore, Store, TenantRepository, fsck
from byok.store.blobs import TEMP_PREFIX

NOW = timedelta(0)


@pytest.fixture
def docs(
    store: Store, tenants: TenantRepository, filesystem_blobs: FilesystemBlobStore
) -> DocumentRepository:
    for tenant in ("acme", "globex"):
        tenants.create(tenant, name=tenant, external_id=f"byok-{secrets.token_hex(8)}")
    return DocumentRepository(store, filesystem_blobs)


def _crash_before_cleanup(docs: DocumentRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the writer 'die' right after its commit, before removing the old blob."""
    monkeypatch.setattr(docs, "finish_removal", lambda generation, key: False)


def test_a_consistent_store_is_clean(docs: DocumentRepository) -> None:
    docs.put("acme", "a", b"1")
    docs.put("globex", "b", b"2")
    report = fsck(docs.store, docs.blobs, deep=True)
    assert report.clean
    assert (report.rows, report.blobs) == (2, 2)


def test_orphan_blobs_wait_out_the_grace_period(docs: DocumentRepository) -> None:
    docs.put("acme", "a", b"1")
    orphan = docs.blobs.put(b"never committed", prefix="acme/")
    report = fsck(docs.store, docs.blobs, repair=True)  # default grace: one hour
    assert report.recent_orphans == (orphan.key,)
    assert report.orphan_blobs == ()
    assert report.removed_orphans == 0
    assert docs.blobs.exists(orphan.key)
    report = fsck(docs.store, docs.blobs, grace=NOW)
    assert report.orphan_blobs == (orphan.key,)
    assert not report.clean
    assert docs.blobs.exists(orphan.key)  # no repair asked
    report = fsck(docs.store, docs.blobs, grace=NOW, repair=True)
    assert report.removed_orphans == 1
    assert not docs.blobs.exists(orphan.key)
    assert fsck(docs.store, docs.blobs, grace=NOW).clean
    with docs.get("acme", "a") as reader:
        assert reader.read() == b"1"


def test_pending_removals_are_finished(
    docs: DocumentRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs.put("acme", "replaced", b"old")
    docs.put("acme", "deleted", b"gone")
    _crash_before_cleanup(docs, monkeypatch)
    docs.put("acme", "replaced", b"new")
    docs.delete("acme", "deleted")
    monkeypatch.undo()
    report = fsck(docs.store, docs.blobs)
    assert sorted(ref.name for ref in report.pending_removals) == ["deleted", "replaced"]
    assert report.orphan_blobs == report.recent_orphans == ()  # their rows still name them
    with docs.get("acme", "replaced") as reader:
        assert reader.read() == b"new"
    report = fsck(docs.store, docs.blobs, repair=True)
    assert report.finished_removals == 2
    assert fsck(docs.store, docs.blobs, grace=NOW, deep=True).clean
    assert len(list(docs.blobs.list())) == 1


def test_missing_and_damaged_blobs_are_reported_not_repaired(docs: DocumentRepository) -> None:
    missing = docs.put("acme", "missing", b"x")
    resized = docs.put("acme", "resized", b"abc")
    altered = docs.put("acme", "altered", b"abc")
    assert isinstance(docs.blobs, FilesystemBlobStore)
    root = docs.blobs.root
    keys = {h.name: _key(docs, h.name) for h in (missing, resized, altered)}
    (root / keys["missing"]).unlink()
    (root / keys["resized"]).write_bytes(b"abcd")
    (root / keys["altered"]).write_bytes(b"abd")
    report = fsck(docs.store, docs.blobs, repair=True, grace=NOW)
    assert [r.name for r in report.missing_blobs] == ["missing"]
    assert [r.name for r in report.damaged_blobs] == ["resized"]
    deep = fsck(docs.store, docs.blobs, deep=True)
    assert [r.name for r in deep.damaged_blobs] == ["resized", "altered"]
    assert docs.head("acme", "missing").generation == missing.generation  # row kept


def _key(docs: DocumentRepository, name: str) -> str:
    from sqlalchemy import select

    from byok.store.schema import DocumentRow

    with docs.store.read() as session:
        return session.scalars(select(DocumentRow.blob_key).where(DocumentRow.name == name)).one()


def test_incomplete_writes_are_swept(docs: DocumentRepository, tmp_path: Path) -> None:
    assert isinstance(docs.blobs, FilesystemBlobStore)
    directory = docs.blobs.root / "acme" / "00"
    directory.mkdir(parents=True)
    (directory / f"{TEMP_PREFIX}cut-short").write_bytes(b"half a blob")
    report = fsck(docs.store, docs.blobs, repair=True, grace=NOW)
    assert report.removed_incomplete == 1
    assert list(directory.iterdir()) == []


def test_fsck_can_be_limited_to_one_tenant(docs: DocumentRepository) -> None:
    docs.put("acme", "a", b"1")
    acme_orphan = docs.blobs.put(b"o", prefix="acme/")
    globex_orphan = docs.blobs.put(b"o", prefix="globex/")
    report = fsck(docs.store, docs.blobs, tenant="globex", grace=NOW, repair=True)
    assert (report.rows, report.orphan_blobs) == (0, (globex_orphan.key,))
    assert docs.blobs.exists(acme_orphan.key)
    assert not docs.blobs.exists(globex_orphan.key)
