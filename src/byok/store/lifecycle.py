"""SQL of the key lifecycle: re-wrapping TKs in place, crypto-shredding, removing a tenant.

Everything here is one statement or one transaction, so every row is always in its old state
or its new one:

- :func:`rewrap_in_place`: compare-and-swap of one TK row's wrapped copy, key ARN and key
  configuration version. A key migration derives its progress from these rows alone
  (:func:`keys_to_migrate`), which is what makes it resumable and idempotent.
- :func:`shred_tenant`: in one transaction the tenant becomes ``OFFBOARDED``, its documents
  lose their TK reference and every wrapped TK row is deleted (crypto-shredding: from the
  commit on, no copy of any blob can be decrypted by anyone, the vendor included).
- :func:`document_blob_batch` / :func:`delete_document_rows`: removal of what remains.
- :func:`insert_document_rows`: bulk insert of document rows (benchmarks and imports).

Plaintext keys never reach this module: it stores and deletes KMS ciphertext only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, not_, select, update

from byok.core.context import SCOPE_CONTEXT_KEY
from byok.errors import NotFound
from byok.store.database import Store
from byok.store.documents import allocate_generations
from byok.store.schema import (
    DocumentRow,
    DocumentState,
    KeyConfigRow,
    KeyConfigState,
    TenantKeyCopyRow,
    TenantKeyRow,
    TenantRow,
    TenantState,
)
from byok.store.signals import SignalKind
from byok.store.tenant_keys import StoredTenantKey
from byok.store.tenants import check_config_transition, check_tenant_transition
from byok.store.tokens import revoke_tenant_tokens

__all__ = [
    "NewDocumentRow",
    "ShredResult",
    "count_document_rows",
    "delete_document_rows",
    "document_blob_batch",
    "insert_document_rows",
    "keys_by_arn",
    "keys_to_migrate",
    "migration_counts",
    "rewrap_in_place",
    "shred_tenant",
]


def _migrated(tenant: str, to_version: int) -> ColumnElement[bool]:
    """A TK row is migrated when it names ``to_version`` *and* that version's CMK.

    Both, because a process that had not yet seen the activation may add a TK wrapped by the
    old CMK while the store labels it with the new (active) version.
    """
    target_arn = (
        select(KeyConfigRow.key_arn)
        .where(KeyConfigRow.tenant_id == tenant, KeyConfigRow.version == to_version)
        .scalar_subquery()
    )
    return and_(TenantKeyRow.key_config_version == to_version, TenantKeyRow.key_arn == target_arn)


def keys_to_migrate(store: Store, tenant: str, to_version: int) -> Sequence[StoredTenantKey]:
    """Return the tenant's TKs not yet under configuration ``to_version`` and its CMK,
    oldest first."""
    query = (
        select(TenantKeyRow)
        .where(TenantKeyRow.tenant_id == tenant, not_(_migrated(tenant, to_version)))
        .order_by(TenantKeyRow.id)
    )
    with store.read() as session:
        return [StoredTenantKey.of(row) for row in session.scalars(query)]


def migration_counts(store: Store, tenant: str, to_version: int) -> tuple[int, int]:
    """Return ``(done, total)``: the tenant's TKs under ``to_version`` and its CMK, and all."""
    done = func.sum(case((_migrated(tenant, to_version), 1), else_=0))
    query = select(func.count(TenantKeyRow.id), done).where(TenantKeyRow.tenant_id == tenant)
    with store.read() as session:
        total, finished = session.execute(query).one()
    return int(finished or 0), int(total or 0)


def keys_by_arn(store: Store, tenant: str, key_arn: str) -> Sequence[StoredTenantKey]:
    """Return the tenant's TKs wrapped by ``key_arn``, oldest first."""
    query = (
        select(TenantKeyRow)
        .where(TenantKeyRow.tenant_id == tenant, TenantKeyRow.key_arn == key_arn)
        .order_by(TenantKeyRow.id)
    )
    with store.read() as session:
        return [StoredTenantKey.of(row) for row in session.scalars(query)]


def rewrap_in_place(
    store: Store,
    key: StoredTenantKey,
    *,
    wrapped: bytes,
    key_arn: str,
    key_config_version: int,
    seal: int = 0,
    kms_context: Mapping[str, str] | None = None,
) -> bool:
    """Replace one TK row's wrapped copy, if the row is still exactly as ``key`` read it.

    ``kms_context``: the new context ``wrapped`` was made under, when it changes too (a TK made
    before scopes and reasons, restated: ``byok.service.restate``); its scope goes with it.

    ``wrapped`` is stored as given (already sealed when ``seal`` is 1: see
    :meth:`~byok.store.tenant_keys.SqlTenantKeyStore.seal`).

    One UPDATE whose WHERE clause repeats the old wrapped copy, key ARN and version
    (compare-and-swap): a concurrent migration or an offboarding in between makes it a no-op.

    Returns:
        True when this call changed the row; False when the row changed or vanished meanwhile.

    Raises:
        StorageError: the database failed (the row is unchanged).
    """
    statement = (
        update(TenantKeyRow)
        .where(
            TenantKeyRow.tenant_id == key.tenant,
            TenantKeyRow.tk_id == key.tk_id,
            TenantKeyRow.key_arn == key.key_arn,
            TenantKeyRow.key_config_version == key.key_config_version,
            TenantKeyRow.wrapped == (key.stored or key.wrapped),
        )
        .values(
            wrapped=bytes(wrapped),
            key_arn=key_arn,
            key_config_version=key_config_version,
            seal=seal,
            **_context_values(kms_context),
        )
    )
    with store.write() as session:
        changed = session.execute(statement).rowcount  # type: ignore[attr-defined]
        if changed:  # the per-reason copies are made again under the new CMK when used
            session.execute(
                delete(TenantKeyCopyRow).where(
                    TenantKeyCopyRow.tenant_id == key.tenant, TenantKeyCopyRow.tk_id == key.tk_id
                )
            )
    return bool(changed)


def _context_values(kms_context: Mapping[str, str] | None) -> dict[str, object]:
    if kms_context is None:
        return {}
    return {"kms_context": dict(kms_context), "scope": kms_context.get(SCOPE_CONTEXT_KEY)}


@dataclass(frozen=True)
class ShredResult:
    """What :func:`shred_tenant` destroyed.

    Attributes:
        tk_ids: the TKs whose wrapped copies were deleted (empty on a repeat).
        key_arns: the CMKs that had wrapped them.
        configs_retired: key configuration versions moved to RETIRED.
    """

    tk_ids: tuple[str, ...]
    key_arns: tuple[str, ...]
    configs_retired: tuple[int, ...]


def shred_tenant(store: Store, tenant: str, *, detail: str) -> ShredResult:
    """Crypto-shred a tenant in one transaction (safe to repeat).

    The tenant becomes ``OFFBOARDED`` (no reads or writes from then on), its documents'
    TK references are cleared, every wrapped TK row is deleted, every key configuration
    is retired and every API token of the tenant is revoked (with the cluster signals that
    make every server process refuse them at once). Rows of documents and their blobs
    remain for :func:`document_blob_batch`.

    Returns:
        A :class:`ShredResult`.

    Raises:
        NotFound: no such tenant.
        StorageError: the database failed (nothing changed).
    """
    with store.write() as session:
        row = session.get(TenantRow, tenant, with_for_update=True)
        if row is None:
            raise NotFound("no such tenant", tenant=tenant, operation="tenant:offboard")
        check_tenant_transition(TenantState(row.state), TenantState.OFFBOARDED, tenant)
        row.state, row.state_detail = TenantState.OFFBOARDED, detail[:2000]
        row.updated_at = store.clock()
        keys = session.execute(
            select(TenantKeyRow.tk_id, TenantKeyRow.key_arn)
            .where(TenantKeyRow.tenant_id == tenant)
            .order_by(TenantKeyRow.id)
        ).all()
        session.execute(
            update(DocumentRow).where(DocumentRow.tenant_id == tenant).values(tk_id=None)
        )
        session.execute(delete(TenantKeyCopyRow).where(TenantKeyCopyRow.tenant_id == tenant))
        session.execute(delete(TenantKeyRow).where(TenantKeyRow.tenant_id == tenant))
        retired = []
        for config in session.scalars(
            select(KeyConfigRow).where(
                KeyConfigRow.tenant_id == tenant, KeyConfigRow.state != KeyConfigState.RETIRED
            )
        ):
            check_config_transition(KeyConfigState(config.state), KeyConfigState.RETIRED, tenant)
            config.state, config.updated_at = KeyConfigState.RETIRED, row.updated_at
            retired.append(config.version)
        # Its tokens die with it, in this transaction: no window where an offboarded
        # tenant's admin token still reads the tenant or mints new tokens.
        revoke_tenant_tokens(session, store, tenant)
        store.signals.publish(session, SignalKind.TENANT_OFFBOARDED, tenant=tenant)
    arns = tuple(dict.fromkeys(arn for _, arn in keys))
    return ShredResult(tuple(tk for tk, _ in keys), arns, tuple(sorted(retired)))


def document_blob_batch(store: Store, tenant: str, limit: int = 1000) -> Sequence[tuple[int, str]]:
    """Return up to ``limit`` of the tenant's document rows (any state) as (id, blob key)."""
    query = (
        select(DocumentRow.id, DocumentRow.blob_key)
        .where(DocumentRow.tenant_id == tenant)
        .order_by(DocumentRow.id)
        .limit(limit)
    )
    with store.read() as session:
        return [(int(i), str(k)) for i, k in session.execute(query)]


def count_document_rows(store: Store, tenant: str) -> int:
    """Return how many document rows (any state) the tenant has."""
    query = select(func.count(DocumentRow.id)).where(DocumentRow.tenant_id == tenant)
    with store.read() as session:
        return int(session.scalar(query) or 0)


def delete_document_rows(store: Store, tenant: str, ids: Iterable[int]) -> int:
    """Delete the tenant's document rows with these ids.

    Returns:
        How many rows were deleted.
    """
    wanted = list(ids)
    if not wanted:
        return 0
    statement = delete(DocumentRow).where(
        DocumentRow.tenant_id == tenant, DocumentRow.id.in_(wanted)
    )
    with store.write() as session:
        return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewDocumentRow:
    """A LIVE document row to insert in bulk (its blob is written by the caller)."""

    name: str
    blob_key: str
    size: int
    sha256: str
    tk_id: str


def insert_document_rows(
    store: Store, tenant: str, rows: Sequence[NewDocumentRow], *, now: datetime | None = None
) -> int:
    """Insert many LIVE document rows in one transaction (one executemany).

    For benchmarks and bulk imports; names must be new (the LIVE-name index refuses others).

    Returns:
        How many rows were inserted.

    Raises:
        Conflict: a name or blob key exists, or a TK id is not the tenant's.
    """
    moment = now or store.clock()
    values = [
        {
            "tenant_id": tenant,
            "name": r.name,
            "state": DocumentState.LIVE.value,
            "blob_key": r.blob_key,
            "size": r.size,
            "sha256": r.sha256,
            "tk_id": r.tk_id,
            "created_at": moment,
            "updated_at": moment,
        }
        for r in rows
    ]
    if values:
        with store.write() as session:
            first = allocate_generations(session, tenant, len(values), operation="document:put")
            for offset, value in enumerate(values):
                value["generation"] = first + offset
            session.execute(insert(DocumentRow), values)
    return len(values)
