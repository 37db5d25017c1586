"""Documents at the storage level: already-encrypted byte streams under (tenant, name).

A put writes the blob first (under a fresh key, never over another blob), then in one
transaction marks the previous version REPLACED and inserts the new LIVE row. The visible
document changes only when that transaction commits, so a crash at any point leaves the
old version or the new one, never a partial one; what a crash can leave behind is an
*orphan blob* (written, never committed) or a REPLACED/DELETED row whose blob was not yet
deleted. :mod:`byok.store.fsck` finds and removes both.

Concurrent puts to one name: the last to commit wins. Every version's *generation* comes
from its tenant's own counter (``tenants.document_generation``, taken in the put's
transaction), unique within the tenant and increasing along a name's history, so the
winner is the one with the highest generation (and a tenant learns nothing from it about
other tenants' writes); each loser's blob is deleted by the put that
replaced it. ``if_generation`` makes a put or delete conditional (0: "must not exist").

Value types (heads, pages, readers), name rules and cursors: ``byok.store.document_types``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.orm import Session

from byok.core.tenant_config import validate_tenant_id
from byok.errors import Conflict, InvalidInput, NotFound, StateError, StorageError
from byok.store.blobs import BlobInfo, BlobStore, ByteSource
from byok.store.database import Store
from byok.store.document_types import (
    MAX_LIST_LIMIT,
    MAX_NAME_LENGTH,
    DocumentHead,
    DocumentPage,
    DocumentReader,
    decode_cursor,
    encode_cursor,
    prefix_upper_bound,
    validate_document_name,
)
from byok.store.group_commit import WriteBatch
from byok.store.schema import DocumentRow, DocumentState, TenantKeyRow, TenantRow, TenantState

__all__ = [
    "MAX_LIST_LIMIT",
    "MAX_NAME_LENGTH",
    "DocumentHead",
    "DocumentPage",
    "DocumentReader",
    "DocumentRepository",
    "allocate_generations",
    "validate_document_name",
]

log = logging.getLogger(__name__)


class _Bind(NamedTuple):
    """What a new version's bytes are bound to: its TK and write id."""

    tk_id: str | None
    write_id: str | None


_PUT_ATTEMPTS = 20
_GET_ATTEMPTS = 5


class DocumentRepository:
    """Per-tenant documents over a metadata :class:`Store` and a :class:`BlobStore`."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def put(
        self,
        tenant: str,
        name: str,
        body: ByteSource,
        *,
        tk_id: str | None = None,
        write_id: str | None = None,
        if_generation: int | None = None,
        also: Callable[[WriteBatch, DocumentHead], object] | None = None,
    ) -> DocumentHead:
        """Store ``body`` (streamed, any size) as the new visible version of ``name``.

        The row is committed in a shared durable transaction (``store.batched``) with the
        rows of concurrent requests; this returns after that commit.

        Args:
            tenant: the tenant id.
            name: the document name.
            body: the (encrypted) bytes.
            tk_id: the tenant key they are encrypted under (must exist for the tenant).
            write_id: the write id bound into the bytes (docs/FORMAT.md#bound-context); reads
                check the blob against it.
            if_generation: only replace this generation (0: only if there is none).
            also: more writes that commit with the row or not at all (e.g. its audit event).

        Returns:
            The head of the committed version.

        Raises:
            InvalidInput: a malformed tenant id, name or generation.
            NotFound: no such tenant, or no such tenant key for it.
            StateError: the tenant is offboarded.
            Conflict: ``if_generation`` did not match (nothing changed).
            StorageError: the blob or the row could not be written (nothing visible changed).
        """
        _check(tenant, name, if_generation)
        blob = self.blobs.put(body, prefix=f"{tenant}/")
        try:
            head, replaced = self._commit_put(
                tenant, name, blob, _Bind(tk_id, write_id), if_generation, also
            )
        except (Conflict, NotFound, StateError):
            self._delete_blob_quietly(blob.key)  # certainly not committed
            raise
        if replaced is not None:
            self.finish_removal(*replaced)
        return head

    def _commit_put(
        self,
        tenant: str,
        name: str,
        blob: BlobInfo,
        bind: _Bind,
        expected: int | None,
        also: Callable[[WriteBatch, DocumentHead], object] | None,
    ) -> tuple[DocumentHead, tuple[int, str] | None]:
        def work(batch: WriteBatch) -> tuple[DocumentHead, tuple[int, str] | None]:
            done = _insert_version(batch.session, tenant, name, blob, bind, expected, self.store)
            if also is not None:
                also(batch, done[0])
            return done

        for attempt in range(_PUT_ATTEMPTS):
            try:
                return self.store.batched.run(work)
            except Conflict as exc:
                # Another put inserted the first LIVE row of this name between our read and
                # our insert (the unique index refused ours): read again and replace it.
                if not isinstance(exc.__cause__, SqlIntegrityError):
                    raise
                time.sleep(0.001 * attempt)
        raise Conflict("too many concurrent writes to one document", tenant=tenant)

    def get(self, tenant: str, name: str) -> DocumentReader:
        """Open the visible version of ``name`` for streaming.

        Returns:
            A :class:`DocumentReader` (close it).

        Raises:
            NotFound: no such document for this tenant.
            StorageError: the row exists but its blob is missing (run fsck).
        """
        _check(tenant, name, None)
        for _ in range(_GET_ATTEMPTS):
            row = self._live(tenant, name)
            try:
                return DocumentReader(DocumentHead.of(row), self.blobs.open(row.blob_key))
            except NotFound:
                # A concurrent put or delete may have removed this version's blob after we
                # read its row: look again, and only report a missing blob if it is current.
                current = self._live(tenant, name)
                if current.id == row.id:
                    raise StorageError(
                        "the document's blob is missing; run `byok fsck`",
                        tenant=tenant,
                        operation="document:get",
                    ) from None
        raise Conflict("the document kept changing while being opened", tenant=tenant)

    def head(self, tenant: str, name: str) -> DocumentHead:
        """Return the visible version's :class:`DocumentHead`.

        Raises:
            NotFound: no such document for this tenant.
        """
        _check(tenant, name, None)
        return DocumentHead.of(self._live(tenant, name))

    def list(
        self, tenant: str, *, prefix: str = "", limit: int = 100, cursor: str | None = None
    ) -> DocumentPage:
        """List visible documents whose names start with ``prefix``, in name order.

        Args:
            tenant: the tenant id.
            prefix: only names starting with it ("" for all).
            limit: page size, 1 to :data:`MAX_LIST_LIMIT`.
            cursor: ``next_cursor`` of the previous page.

        Returns:
            A :class:`DocumentPage`; ``next_cursor`` is None on the last page.

        Raises:
            InvalidInput: a malformed tenant, prefix, limit or cursor.
        """
        validate_tenant_id(tenant)
        if prefix:
            validate_document_name(prefix, field="prefix")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidInput("limit", f"must be 1 to {MAX_LIST_LIMIT}")
        query = select(DocumentRow).where(
            DocumentRow.tenant_id == tenant, DocumentRow.state == DocumentState.LIVE
        )
        query = query.where(DocumentRow.name >= prefix)
        upper = prefix_upper_bound(prefix)
        if upper is not None:
            query = query.where(DocumentRow.name < upper)
        if cursor is not None:
            query = query.where(DocumentRow.name > decode_cursor(cursor))
        query = query.order_by(DocumentRow.name).limit(limit + 1)
        with self.store.read() as session:
            rows = [DocumentHead.of(row) for row in session.scalars(query)]
        more = len(rows) > limit
        items = tuple(rows[:limit])
        return DocumentPage(items, encode_cursor(items[-1].name) if more else None)

    def delete(self, tenant: str, name: str, *, if_generation: int | None = None) -> DocumentHead:
        """Delete the visible version of ``name`` (it disappears at commit).

        Returns:
            The head of the version that was deleted.

        Raises:
            NotFound: no such document for this tenant.
            Conflict: ``if_generation`` did not match (nothing changed).
        """
        _check(tenant, name, if_generation)
        with self.store.write() as session:
            row = _lock_live(session, tenant, name)
            if row is None:
                raise _not_found(tenant, name)
            _check_generation(row, if_generation, tenant)
            row.state = DocumentState.DELETED
            row.updated_at = self.store.clock()
            head, removed = DocumentHead.of(row), (row.id, row.blob_key)
        self.finish_removal(*removed)
        return head

    def finish_removal(self, generation: int, blob_key: str) -> bool:
        """Delete a REPLACED/DELETED version's blob, then its row. Safe to repeat.

        Returns True when done; False if it failed (logged; ``fsck`` finishes it later).
        """
        try:
            self.blobs.delete(blob_key)
            self.store.batched.run(
                lambda batch: batch.session.execute(
                    delete(DocumentRow).where(
                        DocumentRow.id == generation, DocumentRow.state != DocumentState.LIVE
                    )
                )
            )
        except StorageError as exc:
            log.warning("removal of generation %s deferred to fsck: %s", generation, exc.message)
            return False
        return True

    def _live(self, tenant: str, name: str) -> DocumentRow:
        with self.store.read() as session:
            row = session.scalars(_LIVE, {"tenant": tenant, "name": name}).one_or_none()
        if row is None:
            raise _not_found(tenant, name)
        return row

    def _delete_blob_quietly(self, key: str) -> None:
        try:
            self.blobs.delete(key)
        except StorageError as exc:  # an orphan now; fsck removes it after the grace period
            log.warning("could not delete unused blob %s: %s", key, exc.message)


def _insert_version(
    session: Session,
    tenant: str,
    name: str,
    blob: BlobInfo,
    bind: _Bind,
    expected: int | None,
    store: Store,
) -> tuple[DocumentHead, tuple[int, str] | None]:
    """In one write transaction: replace the LIVE row of ``name`` by a new one for ``blob``."""
    generation = allocate_generations(session, tenant, 1, operation="document:put")
    tk_id = bind.tk_id
    if tk_id is not None and session.execute(_TK, {"tenant": tenant, "tk": tk_id}).first() is None:
        raise NotFound("no such tenant key", tenant=tenant, operation="document:put")
    live = _lock_live(session, tenant, name)
    now = store.clock()
    replaced = None
    if live is None:
        if expected not in (None, 0):
            raise Conflict(
                f"the document does not exist, not at generation {expected}",
                tenant=tenant,
                operation="document:put",
            )
    else:
        _check_generation(live, expected, tenant)
        live.state = DocumentState.REPLACED
        live.updated_at = now
        session.flush()  # free the (tenant, name) LIVE slot before inserting
        replaced = (live.id, live.blob_key)
    created = live.created_at if live is not None else now
    values = {
        "tenant_id": tenant, "name": name, "state": DocumentState.LIVE, "blob_key": blob.key,
        "size": blob.size, "sha256": blob.sha256, "tk_id": tk_id, "write_id": bind.write_id,
        "generation": generation, "created_at": created, "updated_at": now,
    }  # fmt: skip
    session.execute(_INSERT, values)  # Core, not a flushed ORM object: every write runs it
    head = DocumentHead(
        tenant, name, generation, blob.size, blob.sha256, tk_id, created, now, bind.write_id
    )
    return head, replaced


def allocate_generations(session: Session, tenant: str, count: int, *, operation: str) -> int:
    """Take ``count`` generations from the tenant's counter in the caller's transaction.

    The tenant row is locked (FOR UPDATE on PostgreSQL) until commit, so offboarding cannot
    commit in between and two writers never get the same number.

    Returns:
        The first of the ``count`` consecutive generations.

    Raises:
        NotFound: no such tenant.
        StateError: the tenant is offboarded.
    """
    row = session.get(TenantRow, tenant, with_for_update=True)
    if row is None:
        raise NotFound("no such tenant", tenant=tenant, operation=operation)
    if row.state == TenantState.OFFBOARDED:
        raise StateError("the tenant is offboarded", tenant=tenant, operation=operation)
    first = (row.document_generation or 0) + 1
    row.document_generation = first + count - 1
    return first


# Built once: every read of a document runs it.
_LIVE = select(DocumentRow).where(
    DocumentRow.tenant_id == bindparam("tenant"),
    DocumentRow.name == bindparam("name"),
    DocumentRow.state == DocumentState.LIVE,
)


_LIVE_FOR_UPDATE = _LIVE.with_for_update()
_TK = select(TenantKeyRow.id).where(
    TenantKeyRow.tenant_id == bindparam("tenant"), TenantKeyRow.tk_id == bindparam("tk")
)
_INSERT = insert(cast(Table, DocumentRow.__table__))


def _lock_live(session: Session, tenant: str, name: str) -> DocumentRow | None:
    return session.scalars(_LIVE_FOR_UPDATE, {"tenant": tenant, "name": name}).one_or_none()


def _check_generation(row: DocumentRow, expected: int | None, tenant: str) -> None:
    if expected is not None and row.generation != expected:
        raise Conflict(
            f"generation is {row.generation}, not {expected}",
            tenant=tenant,
            operation="document:write",
            fix="Read the current version (head) and retry with its generation.",
        )


def _check(tenant: str, name: str, generation: int | None) -> None:
    validate_tenant_id(tenant)
    validate_document_name(name)
    if generation is not None and (isinstance(generation, bool) or generation < 0):
        raise InvalidInput("if_generation", "must be a generation number or 0")


def _not_found(tenant: str, name: str) -> NotFound:
    return NotFound(f"no document {name!r}", tenant=tenant, operation="document")
