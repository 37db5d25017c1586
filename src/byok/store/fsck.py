"""``fsck``: check that document rows and blobs agree, and clean up after crashes.

A put writes its blob before its row commits and a replace or delete commits before the old
blob is removed, so a crash can leave exactly these, none of them visible to readers:

* **orphan blobs**: a blob no row names (the put died before its commit). Removed by
  ``repair`` once older than the grace period: a younger one may belong to a put that is
  about to commit.
* **pending removals**: a REPLACED or DELETED row (the writer died before removing the old
  blob). ``repair`` deletes its blob and then the row.
* **incomplete writes**: temporary files, unfinished multipart uploads. ``repair`` sweeps
  those older than the grace period.

It also reports what no crash can cause and what it must not "repair" by guessing:

* **missing blobs**: a LIVE row whose blob is gone (data loss outside byok's control).
* **damaged blobs**: a LIVE row whose blob has another size, whose header binds another
  write id than the row's (an earlier version or another document written over it:
  docs/FORMAT.md#bound-context), or, with ``deep``, another SHA-256 than recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select

from byok.core.format import MAX_HEADER_BYTES, parse_header
from byok.errors import IntegrityError, NotFound
from byok.store.blobs import BlobListing, BlobStore, iter_chunks
from byok.store.database import Store
from byok.store.documents import DocumentRepository
from byok.store.schema import DocumentRow, DocumentState

__all__ = ["DEFAULT_GRACE", "DocumentRef", "FsckReport", "fsck"]

DEFAULT_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class DocumentRef:
    """A document version named by a finding."""

    tenant: str
    name: str
    generation: int
    blob_key: str


@dataclass(frozen=True)
class FsckReport:
    """What :func:`fsck` found and, with ``repair``, what it did.

    Attributes:
        rows: document rows checked.
        blobs: blobs listed.
        orphan_blobs: blobs no row names, older than the grace period.
        recent_orphans: blobs no row names, within the grace period (left alone).
        pending_removals: REPLACED/DELETED versions whose cleanup had not finished.
        missing_blobs: LIVE versions whose blob does not exist.
        damaged_blobs: LIVE versions whose blob size, bound write id (or ``deep`` hash) is not
            the recorded one.
        removed_orphans: orphan blobs deleted by ``repair``.
        finished_removals: pending removals completed by ``repair``.
        removed_incomplete: incomplete writes swept by ``repair``.
    """

    rows: int
    blobs: int
    orphan_blobs: tuple[str, ...]
    recent_orphans: tuple[str, ...]
    pending_removals: tuple[DocumentRef, ...]
    missing_blobs: tuple[DocumentRef, ...]
    damaged_blobs: tuple[DocumentRef, ...]
    removed_orphans: int = 0
    finished_removals: int = 0
    removed_incomplete: int = 0

    @property
    def clean(self) -> bool:
        """True when nothing needs attention (recent orphans may be puts in flight)."""
        return not (
            self.orphan_blobs or self.pending_removals or self.missing_blobs or self.damaged_blobs
        )


def fsck(
    store: Store,
    blobs: BlobStore,
    *,
    repair: bool = False,
    grace: timedelta = DEFAULT_GRACE,
    deep: bool = False,
    tenant: str | None = None,
) -> FsckReport:
    """Check documents against blobs (one tenant's, or all); optionally repair.

    Blobs are listed *before* rows are read, so a put that commits meanwhile is never
    mistaken for an orphan; every deletion re-checks that no row names the blob.

    Args:
        store: the metadata store.
        blobs: the blob store holding the documents.
        repair: delete old orphans, finish pending removals, sweep incomplete writes.
        grace: how old an unreferenced blob must be before it counts as an orphan.
        deep: also re-hash every LIVE blob (reads all data).
        tenant: limit the check to one tenant (default: everything).

    Returns:
        The :class:`FsckReport`.

    Raises:
        StorageError: the database or blob store failed.
    """
    cutoff = store.clock() - grace
    listed = {entry.key: entry for entry in blobs.list(f"{tenant}/" if tenant else "")}
    rows = _rows(store, tenant)
    named = {row.blob_key for row in rows}
    unnamed = [listed[key] for key in sorted(listed.keys() - named)]
    orphans = tuple(e.key for e in unnamed if e.modified < cutoff)
    recent = tuple(e.key for e in unnamed if e.modified >= cutoff)
    pending = tuple(_ref(r) for r in rows if r.state != DocumentState.LIVE)
    live = [r for r in rows if r.state == DocumentState.LIVE]
    missing = tuple(_ref(r) for r in _missing(store, blobs, live, listed))
    damaged = tuple(_ref(r) for r in _damaged(blobs, live, listed, deep=deep))
    report = FsckReport(len(rows), len(listed), orphans, recent, pending, missing, damaged)
    if not repair:
        return report
    repository = DocumentRepository(store, blobs)
    return _repaired(report, store, blobs, repository, cutoff)


def _rows(store: Store, tenant: str | None) -> list[DocumentRow]:
    query = select(DocumentRow).order_by(DocumentRow.id)
    if tenant is not None:
        query = query.where(DocumentRow.tenant_id == tenant)
    with store.read() as session:
        return list(session.scalars(query))


def _missing(
    store: Store, blobs: BlobStore, live: Iterable[DocumentRow], listed: dict[str, BlobListing]
) -> list[DocumentRow]:
    """LIVE rows whose blob was not listed, still LIVE now, and whose blob still does not exist."""
    suspects = [row for row in live if row.blob_key not in listed]
    if not suspects:
        return []
    with store.read() as session:
        still_live = set(
            session.scalars(
                select(DocumentRow.id).where(
                    DocumentRow.id.in_([row.id for row in suspects]),
                    DocumentRow.state == DocumentState.LIVE,
                )
            )
        )
    return [r for r in suspects if r.id in still_live and not blobs.exists(r.blob_key)]


def _damaged(
    blobs: BlobStore, live: Iterable[DocumentRow], listed: dict[str, BlobListing], *, deep: bool
) -> list[DocumentRow]:
    damaged = []
    for row in live:
        entry = listed.get(row.blob_key)
        if entry is None:
            continue
        if (
            entry.size != row.size
            or not _binds_row(blobs, row)
            or (deep and _sha256(blobs, row.blob_key) != row.sha256)
        ):
            damaged.append(row)
    return damaged


def _binds_row(blobs: BlobStore, row: DocumentRow) -> bool:
    """Whether the blob's header names this row's tenant, name and write id (no key needed:
    the header is only parsed here, a read also verifies it). Rows without a write id (written
    before format v2) are checked by size here and by SHA-256 with ``deep``."""
    if row.write_id is None:
        return True
    try:
        with blobs.open(row.blob_key) as stream:
            head = stream.read(MAX_HEADER_BYTES)
        context = parse_header(head).context
    except (NotFound, IntegrityError):
        return False
    return (context.tenant, context.document, context.write) == (
        row.tenant_id,
        row.name,
        row.write_id,
    )


def _sha256(blobs: BlobStore, key: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with blobs.open(key) as stream:
            for chunk in iter_chunks(stream):
                digest.update(chunk)
    except NotFound:
        return None
    return digest.hexdigest()


def _repaired(
    report: FsckReport,
    store: Store,
    blobs: BlobStore,
    repository: DocumentRepository,
    cutoff: datetime,
) -> FsckReport:
    removed = 0
    for key in report.orphan_blobs:
        with store.read() as session:
            named = session.scalars(
                select(DocumentRow.id).where(DocumentRow.blob_key == key)
            ).first()
        if named is None:
            blobs.delete(key)
            removed += 1
    finished = sum(
        repository.finish_removal(ref.generation, ref.blob_key) for ref in report.pending_removals
    )
    swept = blobs.sweep_incomplete(cutoff)
    return replace(
        report, removed_orphans=removed, finished_removals=finished, removed_incomplete=swept
    )


def _ref(row: DocumentRow) -> DocumentRef:
    return DocumentRef(row.tenant_id, row.name, row.id, row.blob_key)
