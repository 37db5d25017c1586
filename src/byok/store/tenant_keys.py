"""Wrapped tenant keys (TKs) in the metadata store.

Only *wrapped* TKs are stored (ciphertext from ``kms:GenerateDataKey``, decryptable only by
the customer's CMK under the TK's encryption context); plaintext keys never reach this module.
``byok.service.keystore`` adapts this repository to the envelope's
:class:`byok.core.tenant_keys.TenantKeyStore` protocol.

A tenant's *current* TK is its newest unretired one; older TKs stay for reading documents
they encrypted. Each TK records the key configuration version whose CMK wrapped it (so a
move to a new CMK knows what to re-wrap) and a document counter that
:meth:`SqlTenantKeyStore.count_document` increments atomically across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from byok.core.tenant_config import validate_tenant_id
from byok.errors import Conflict, InvalidInput, NotFound
from byok.store.database import Store
from byok.store.schema import TenantKeyRow

__all__ = ["SqlTenantKeyStore", "StoredTenantKey"]


@dataclass(frozen=True)
class StoredTenantKey:
    """A wrapped tenant key as stored.

    Attributes:
        tenant: the tenant id.
        tk_id: the TK id (in the encryption context and every document header).
        key_arn: the CMK that wrapped it.
        key_config_version: the key configuration version it was made under.
        wrapped: the KMS ciphertext blob (not shown in ``repr``; it is not secret, but long).
        created_at: when it was made (UTC).
        documents_encrypted: documents counted against it so far.
        retired: True once rotated out (still used to read old documents).
    """

    tenant: str
    tk_id: str
    key_arn: str
    key_config_version: int
    wrapped: bytes = field(repr=False)
    created_at: datetime
    documents_encrypted: int
    retired: bool

    @classmethod
    def of(cls, row: TenantKeyRow) -> StoredTenantKey:
        """Build from a ``tenant_keys`` row."""
        return cls(
            row.tenant_id, row.tk_id, row.key_arn, row.key_config_version, row.wrapped,
            row.created_at, row.documents_encrypted, row.retired,
        )  # fmt: skip


class SqlTenantKeyStore:
    """Wrapped TKs in a :class:`Store`; thread- and process-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def current(self, tenant: str) -> StoredTenantKey | None:
        """Return the tenant's newest unretired TK, or None when it has none."""
        query = (
            select(TenantKeyRow)
            .where(TenantKeyRow.tenant_id == tenant, TenantKeyRow.retired.is_(False))
            .order_by(TenantKeyRow.id.desc())
            .limit(1)
        )
        with self.store.read() as session:
            row = session.scalars(query).one_or_none()
            return None if row is None else StoredTenantKey.of(row)

    def get(self, tenant: str, tk_id: str) -> StoredTenantKey:
        """Return one TK of the tenant (retired or not).

        Raises:
            NotFound: the tenant has no TK with this id (other tenants' TKs are invisible).
        """
        with self.store.read() as session:
            return StoredTenantKey.of(_row(session, tenant, tk_id))

    def list(self, tenant: str) -> Sequence[StoredTenantKey]:
        """Return every TK of the tenant, oldest first."""
        query = (
            select(TenantKeyRow).where(TenantKeyRow.tenant_id == tenant).order_by(TenantKeyRow.id)
        )
        with self.store.read() as session:
            return [StoredTenantKey.of(row) for row in session.scalars(query)]

    def add(
        self,
        tenant: str,
        tk_id: str,
        *,
        key_arn: str,
        key_config_version: int,
        wrapped: bytes,
        created_at: datetime | None = None,
        retire_others: bool = False,
    ) -> StoredTenantKey:
        """Store a new wrapped TK; it becomes the tenant's current one.

        Args:
            tenant: the tenant id.
            tk_id: the new TK's id (unique per tenant).
            key_arn: the CMK that wrapped it.
            key_config_version: the key configuration it was made under (must exist).
            wrapped: the ciphertext blob.
            created_at: when it was made (default: the store's clock).
            retire_others: retire the tenant's other TKs in the same transaction.

        Returns:
            The stored TK.

        Raises:
            InvalidInput: a malformed tenant id or TK id, or an empty ``wrapped``.
            Conflict: the TK id is taken, or the tenant / configuration version does not exist.
        """
        validate_tenant_id(tenant)
        if not 1 <= len(tk_id) <= 256:
            raise InvalidInput("tk_id", "must be 1 to 256 characters", tenant=tenant)
        if not wrapped:
            raise InvalidInput("wrapped", "is empty", tenant=tenant)
        row = TenantKeyRow(
            tenant_id=tenant, tk_id=tk_id, key_arn=key_arn, key_config_version=key_config_version,
            wrapped=bytes(wrapped), created_at=created_at or self.store.clock(),
            documents_encrypted=0, retired=False,
        )  # fmt: skip
        try:
            with self.store.write() as session:
                if retire_others:
                    session.execute(
                        update(TenantKeyRow)
                        .where(TenantKeyRow.tenant_id == tenant)
                        .values(retired=True)
                    )
                session.add(row)
        except Conflict:
            raise Conflict(
                "this TK id is taken, or the tenant or key configuration does not exist",
                tenant=tenant,
                operation="tk:add",
            ) from None
        return StoredTenantKey.of(row)

    def count_document(self, tenant: str, tk_id: str, count: int = 1) -> int:
        """Add ``count`` to the TK's document counter, atomically across processes.

        Returns:
            The new count.

        Raises:
            NotFound: no such TK for this tenant.
        """
        with self.store.write() as session:
            result = session.execute(
                update(TenantKeyRow)
                .where(TenantKeyRow.tenant_id == tenant, TenantKeyRow.tk_id == tk_id)
                .values(documents_encrypted=TenantKeyRow.documents_encrypted + count)
                .returning(TenantKeyRow.documents_encrypted)
            ).scalar_one_or_none()
        if result is None:
            raise NotFound("no such tenant key", tenant=tenant, operation="tk:count")
        return result

    def retire(self, tenant: str, tk_id: str) -> StoredTenantKey:
        """Retire a TK: it stays readable but is no longer current.

        Raises:
            NotFound: no such TK for this tenant.
        """
        with self.store.write() as session:
            row = _row(session, tenant, tk_id, lock=True)
            row.retired = True
            return StoredTenantKey.of(row)


def _row(session: Session, tenant: str, tk_id: str, *, lock: bool = False) -> TenantKeyRow:
    query = select(TenantKeyRow).where(
        TenantKeyRow.tenant_id == tenant, TenantKeyRow.tk_id == tk_id
    )
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFound("no such tenant key", tenant=tenant, operation="tk")
    return row
