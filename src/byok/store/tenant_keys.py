"""Wrapped tenant keys (TKs) in the metadata store.

Only *wrapped* TKs are stored (ciphertext from ``kms:GenerateDataKey``, decryptable only by
the customer's CMK under the TK's encryption context); plaintext keys never reach this module.
``byok.service.keystore`` adapts this repository to the envelope's
:class:`byok.core.tenant_keys.TenantKeyStore` protocol.

**Composite wrap** (docs/SECURITY.md#offboarding-and-backups): given a
:class:`~byok.store.vendor_keys.VendorKeyDirectory`, every wrapped TK is stored sealed under
the tenant's vendor key (``seal = 1``) and unsealed on read, so callers always see the KMS
ciphertext. Rows stored before (``seal = 0``) are sealed in place the first time they are
read (compare-and-swap); a sealed row whose vendor key is gone (offboarded) fails closed.

A tenant's *current* TK of a scope is its newest unretired one there; older TKs stay for
reading documents they encrypted. **Copies** (``tenant_key_copies``) hold a TK wrapped once
more for each access reason (docs/SECURITY.md#access-reasons), sealed the same way under the
id ``<tk_id>/<reason>``; a key migration deletes them with the re-wrap (they are made again).

Each TK records the key configuration version whose CMK wrapped it (so a
move to a new CMK knows what to re-wrap) and a document counter that
:meth:`SqlTenantKeyStore.count_document` increments atomically across processes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from byok.core.composite import SEAL_VERSION, seal_wrapped, unseal_wrapped
from byok.core.context import DEFAULT_SCOPE, SCOPE_CONTEXT_KEY, stored_key_context
from byok.core.raw_keys import VendorKey
from byok.core.tenant_config import validate_tenant_id
from byok.errors import Conflict, InvalidInput, NotFound, StateError
from byok.store.database import Store
from byok.store.schema import TenantKeyCopyRow, TenantKeyRow
from byok.store.vendor_keys import VendorKeyDirectory

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
        stored: the bytes as stored (sealed, or the KMS ciphertext for an unsealed row).
        seal: 1 when sealed under the tenant's vendor key, 0 when not.
        kms_context: the exact KMS context it was wrapped under (None: made before it was
            recorded; :attr:`context` then gives ``{byok:tenant, byok:tk}``).
    """

    tenant: str
    tk_id: str
    key_arn: str
    key_config_version: int
    wrapped: bytes = field(repr=False)
    created_at: datetime
    documents_encrypted: int
    retired: bool
    stored: bytes = field(repr=False, default=b"")
    seal: int = 0
    kms_context: Mapping[str, str] | None = None

    @property
    def context(self) -> dict[str, str]:
        """The KMS context to unwrap it with: exactly the one it was wrapped under.

        Raises:
            IntegrityError: the recorded context names another tenant or TK (tampered row).
        """
        return stored_key_context(self.tenant, self.tk_id, self.kms_context)

    @classmethod
    def of(cls, row: TenantKeyRow, wrapped: bytes | None = None) -> StoredTenantKey:
        """Build from a ``tenant_keys`` row (``wrapped``: its unsealed KMS ciphertext)."""
        return cls(
            row.tenant_id, row.tk_id, row.key_arn, row.key_config_version,
            row.wrapped if wrapped is None else wrapped, row.created_at,
            row.documents_encrypted, row.retired, row.wrapped, row.seal or 0, row.kms_context,
        )  # fmt: skip


class SqlTenantKeyStore:
    """Wrapped TKs in a :class:`Store`; thread- and process-safe.

    Args:
        store: the metadata store.
        vendor_keys: where the tenants' vendor keys live (None: no composite wrap; rows are
            stored and read as plain KMS ciphertext, sealed rows cannot be read).
    """

    def __init__(self, store: Store, vendor_keys: VendorKeyDirectory | None = None) -> None:
        self.store = store
        self.vendor_keys = vendor_keys

    def seal(self, tenant: str, tk_id: str, wrapped: bytes) -> tuple[bytes, int]:
        """What to store for a TK's KMS ciphertext: ``(bytes, seal)``."""
        if self.vendor_keys is None:
            return bytes(wrapped), 0
        key = self.vendor_keys.get_or_create(tenant)
        return seal_wrapped(key, tk_id, wrapped), SEAL_VERSION

    def _open(self, row: TenantKeyRow) -> StoredTenantKey:
        """The row with its KMS ciphertext unsealed (legacy rows: sealed now, in place).

        Raises:
            StateError: the row is sealed and the tenant's vendor key is gone.
            IntegrityError: the sealed bytes do not open under the vendor key.
        """
        if not row.seal:
            if self.vendor_keys is None:
                return StoredTenantKey.of(row)
            return self._seal_legacy(row)
        key = self._vendor_key(row.tenant_id)
        return StoredTenantKey.of(row, unseal_wrapped(key, row.tk_id, row.wrapped))

    def unsealed(self, key: StoredTenantKey) -> StoredTenantKey:
        """``key`` (built from a raw row elsewhere) with its KMS ciphertext unsealed.

        Raises:
            StateError, IntegrityError: as reading the row here.
        """
        if not key.seal:
            return key
        vendor_key = self._vendor_key(key.tenant)
        return replace(key, wrapped=unseal_wrapped(vendor_key, key.tk_id, key.stored))

    def _vendor_key(self, tenant: str) -> VendorKey:
        key = None if self.vendor_keys is None else self.vendor_keys.get(tenant)
        if key is None:
            raise StateError(
                "the tenant's vendor key is destroyed (offboarded) or missing: its wrapped "
                "tenant keys cannot be opened", tenant=tenant, operation="tk:unseal",
                fix="If the tenant was not offboarded, restore BYOK_VENDOR_KEY_DIR.",
            )  # fmt: skip
        return key

    def _seal_legacy(self, row: TenantKeyRow) -> StoredTenantKey:
        """Seal a row stored before the composite wrap (compare-and-swap; safe to race)."""
        stored, seal = self.seal(row.tenant_id, row.tk_id, row.wrapped)
        with self.store.write() as session:
            session.execute(
                update(TenantKeyRow)
                .where(TenantKeyRow.id == row.id, TenantKeyRow.seal == 0,
                       TenantKeyRow.wrapped == row.wrapped)
                .values(wrapped=stored, seal=seal)
            )  # fmt: skip
        return StoredTenantKey.of(row, row.wrapped)

    def current(self, tenant: str, scope: str | None = None) -> StoredTenantKey | None:
        """Return the tenant's newest unretired TK (of ``scope``, if given), or None."""
        query = select(TenantKeyRow).where(
            TenantKeyRow.tenant_id == tenant, TenantKeyRow.retired.is_(False)
        )
        if scope is not None:
            in_scope = TenantKeyRow.scope == scope
            if scope == DEFAULT_SCOPE:  # TKs made before scopes serve the default scope
                in_scope = or_(in_scope, TenantKeyRow.scope.is_(None))
            query = query.where(in_scope)
        query = query.order_by(TenantKeyRow.id.desc()).limit(1)
        with self.store.read() as session:
            row = session.scalars(query).one_or_none()
        return None if row is None else self._open(row)

    def get(self, tenant: str, tk_id: str) -> StoredTenantKey:
        """Return one TK of the tenant (retired or not).

        Raises:
            NotFound: the tenant has no TK with this id (other tenants' TKs are invisible).
        """
        with self.store.read() as session:
            row = _row(session, tenant, tk_id)
        return self._open(row)

    def list(self, tenant: str) -> Sequence[StoredTenantKey]:
        """Return every TK of the tenant, oldest first."""
        query = (
            select(TenantKeyRow).where(TenantKeyRow.tenant_id == tenant).order_by(TenantKeyRow.id)
        )
        with self.store.read() as session:
            rows = list(session.scalars(query))
        return [self._open(row) for row in rows]

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
        kms_context: Mapping[str, str] | None = None,
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
            kms_context: the exact KMS context ``wrapped`` was made under (None: the legacy
                ``{byok:tenant, byok:tk}``); it must name this tenant and TK.

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
        if kms_context is not None:
            kms_context = stored_key_context(tenant, tk_id, kms_context)
        stored, seal = self.seal(tenant, tk_id, wrapped)
        row = TenantKeyRow(
            tenant_id=tenant, tk_id=tk_id, key_arn=key_arn, key_config_version=key_config_version,
            wrapped=stored, created_at=created_at or self.store.clock(),
            documents_encrypted=0, retired=False, seal=seal, kms_context=kms_context,
            scope=None if kms_context is None else kms_context.get(SCOPE_CONTEXT_KEY),
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
        return StoredTenantKey.of(row, bytes(wrapped))

    def copy(self, tenant: str, tk_id: str, reason: str) -> StoredTenantKey | None:
        """The TK's copy wrapped for ``reason``, as a :class:`StoredTenantKey` (its
        ``wrapped``, ``key_arn`` and ``key_config_version`` are the copy's), or None.

        Raises:
            NotFound: no such TK for this tenant.
            StateError, IntegrityError: as reading the TK row.
        """
        with self.store.read() as session:
            row = _row(session, tenant, tk_id)
            copy = session.get(TenantKeyCopyRow, (tenant, tk_id, reason))
        if copy is None:
            return None
        wrapped = copy.wrapped
        if copy.seal:
            wrapped = unseal_wrapped(self._vendor_key(tenant), f"{tk_id}/{reason}", wrapped)
        return replace(
            StoredTenantKey.of(row, wrapped), key_arn=copy.key_arn,
            key_config_version=copy.key_config_version, stored=copy.wrapped, seal=copy.seal,
        )  # fmt: skip

    def add_copy(
        self, tenant: str, tk_id: str, reason: str, *, wrapped: bytes, key_arn: str,
        key_config_version: int,
    ) -> None:  # fmt: skip
        """Keep the TK wrapped for ``reason`` (replacing an earlier copy for it).

        Raises:
            InvalidInput: an empty ``wrapped``.
            Conflict: the tenant does not exist.
        """
        if not wrapped:
            raise InvalidInput("wrapped", "is empty", tenant=tenant)
        stored, seal = self.seal(tenant, f"{tk_id}/{reason}", wrapped)
        with self.store.write() as session:
            session.execute(
                delete(TenantKeyCopyRow).where(
                    TenantKeyCopyRow.tenant_id == tenant, TenantKeyCopyRow.tk_id == tk_id,
                    TenantKeyCopyRow.reason == reason,
                )
            )  # fmt: skip
            session.add(
                TenantKeyCopyRow(
                    tenant_id=tenant, tk_id=tk_id, reason=reason, key_arn=key_arn,
                    key_config_version=key_config_version, wrapped=stored, seal=seal,
                    created_at=self.store.clock(),
                )
            )  # fmt: skip

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
        return self._open(row)


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
