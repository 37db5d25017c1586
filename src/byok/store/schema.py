"""The metadata schema: SQLAlchemy 2 typed ORM models for every table byok stores.

The tables (one Alembic revision creates them; see ``byok/store/migrations``):

=================  ===============================================================
table              holds
=================  ===============================================================
tenants            one row per tenant: lifecycle state, the vendor-made External ID
key_configs        versioned key-access configurations (Option A / B) and their
                   verification reports; at most one ACTIVE per tenant
tenant_keys        wrapped tenant keys (TKs), the config version that made them,
                   how many documents each encrypted, whether retired
documents          document versions: LIVE (visible), REPLACED or DELETED (their
                   blobs await deletion); at most one LIVE per (tenant, name)
audit_events       the hash-chained audit log (seq, event fields, prev_hash, hash)
audit_chain_head   one row: the last seq and hash; locked by every append so the
                   chain has a single order even with concurrent writers
leases             named, expiring leases (one process runs a periodic job)
api_tokens         hashed API tokens (model in ``byok.store.tokens``; revision 0002)
signals            cluster signals other nodes act on (``byok.store.signals``; 0003)
tenant_policies    outage grace, key-event secret, key-loss policy (``key_policies``; 0005)
key_events         accepted key-event ids, so a replay acts once (``key_policies``; 0005)
=================  ===============================================================

Times are stored timezone-aware and always come back as UTC (:class:`UtcDateTime`).
Document names sort by code point on every backend (``COLLATE "C"`` on PostgreSQL,
SQLite's default BINARY), so prefix ranges and list cursors mean the same everywhere.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AuditChainHead",
    "AuditEventRow",
    "Base",
    "DocumentRow",
    "DocumentState",
    "KeyBindingRow",
    "KeyConfigRow",
    "KeyConfigState",
    "LeaseRow",
    "TenantKeyCopyRow",
    "TenantKeyRow",
    "TenantRow",
    "TenantState",
    "UtcDateTime",
]

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TENANT_ID = String(128)
ARN = String(2048)
EXTERNAL_ID = String(1224)
TK_ID = String(256)
HASH_HEX = String(64)
# Code-point order on PostgreSQL too (a locale collation would break prefix ranges).
DOCUMENT_NAME = String(1024).with_variant(String(1024, collation="C"), "postgresql")
# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid alias.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class TenantState(enum.StrEnum):
    """A tenant's lifecycle state (transitions: :data:`byok.store.tenants.TENANT_TRANSITIONS`)."""

    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    ACTIVE = "ACTIVE"
    KEY_UNAVAILABLE = "KEY_UNAVAILABLE"
    OFFBOARDED = "OFFBOARDED"


class KeyConfigState(enum.StrEnum):
    """A key configuration's state (transitions: :data:`byok.store.tenants.CONFIG_TRANSITIONS`)."""

    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    ACTIVE = "ACTIVE"
    RETIRED = "RETIRED"


class DocumentState(enum.StrEnum):
    """LIVE is the visible version; REPLACED and DELETED rows are blob deletions in progress."""

    LIVE = "LIVE"
    REPLACED = "REPLACED"
    DELETED = "DELETED"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that is stored as UTC and always read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("byok stores timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def _in(column: str, values: type[enum.StrEnum]) -> str:
    listed = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({listed})"


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class TenantRow(Base):
    """One tenant."""

    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(_in("state", TenantState), name="state"),)

    id: Mapped[str] = mapped_column(TENANT_ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16))
    state_detail: Mapped[str | None] = mapped_column(String(2048))
    external_id: Mapped[str] = mapped_column(EXTERNAL_ID, unique=True)
    #: The last document generation issued to this tenant (per tenant: a tenant learns
    #: nothing from it about other tenants' writes).
    document_generation: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default=text("0")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class KeyConfigRow(Base):
    """One version of a tenant's key-access configuration."""

    __tablename__ = "key_configs"
    __table_args__ = (
        CheckConstraint(_in("state", KeyConfigState), name="state"),
        CheckConstraint("mode IN ('direct', 'assume-role')", name="mode"),
        CheckConstraint("version >= 1", name="version"),
        Index(
            "uq_key_configs_one_active",
            "tenant_id",
            unique=True,
            sqlite_where=text("state = 'ACTIVE'"),
            postgresql_where=text("state = 'ACTIVE'"),
        ),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    mode: Mapped[str] = mapped_column(String(16))
    key_arn: Mapped[str] = mapped_column(ARN)
    region: Mapped[str] = mapped_column(String(32))
    client_role_arn: Mapped[str | None] = mapped_column(ARN)
    external_id: Mapped[str | None] = mapped_column(EXTERNAL_ID)
    state: Mapped[str] = mapped_column(String(16))
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Who submitted this version and who approved it (a second principal; docs/SECURITY.md).
    submitted_by: Mapped[str | None] = mapped_column(String(256))
    approved_by: Mapped[str | None] = mapped_column(String(256))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class KeyBindingRow(Base):
    """One customer resource (a KMS key or a client role) and the one tenant it serves.

    ``resource`` is canonical (``byok.store.bindings.binding_resources``): the key's account
    and key id (a multi-Region key's replicas are one key), the role's account and lower-case
    name (IAM role names are unique case-insensitively, whatever the path).
    """

    __tablename__ = "key_bindings"
    __table_args__ = (CheckConstraint("kind IN ('key', 'client-role')", name="kind"),)

    resource: Mapped[str] = mapped_column(String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TenantKeyRow(Base):
    """One wrapped tenant key. ``id`` orders a tenant's keys; the newest unretired one of a
    scope is that scope's current TK."""

    __tablename__ = "tenant_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "tk_id"),
        Index("ix_tenant_keys_tenant_id_scope", "tenant_id", "scope"),
        ForeignKeyConstraint(
            ["tenant_id", "key_config_version"],
            ["key_configs.tenant_id", "key_configs.version"],
        ),
        CheckConstraint("documents_encrypted >= 0", name="documents_encrypted"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    tk_id: Mapped[str] = mapped_column(TK_ID)
    key_arn: Mapped[str] = mapped_column(ARN)
    key_config_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    documents_encrypted: Mapped[int] = mapped_column(BigInteger, default=0)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    # 0: wrapped by the customer's CMK only; 1: also sealed under the tenant's vendor key.
    seal: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    # The exact KMS encryption context it was wrapped under (tenant, TK, scope, period);
    # NULL for TKs made before it was recorded: their context is {byok:tenant, byok:tk}.
    kms_context: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    # Its byok:scope; NULL for TKs made before scopes (they serve the "default" scope).
    scope: Mapped[str | None] = mapped_column(String(64), nullable=True)


class TenantKeyCopyRow(Base):
    """A tenant key wrapped once more for one access reason (``byok:reason`` in its KMS
    context), sealed like its ``tenant_keys`` row (docs/SECURITY.md#access-reasons)."""

    __tablename__ = "tenant_key_copies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    tk_id: Mapped[str] = mapped_column(TK_ID, primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_arn: Mapped[str] = mapped_column(ARN)
    key_config_version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    seal: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DocumentRow(Base):
    """One stored version of a document. ``id`` is internal (store-wide); ``generation`` is
    the version number a tenant sees, from its own counter (``tenants.document_generation``),
    unique and increasing within the tenant.

    ``created_at`` is when the name was first written (carried over on replace),
    ``updated_at`` when this version was committed.
    """

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(_in("state", DocumentState), name="state"),
        CheckConstraint("size >= 0", name="size"),
        ForeignKeyConstraint(
            ["tenant_id", "tk_id"], ["tenant_keys.tenant_id", "tenant_keys.tk_id"]
        ),
        # The visible version: at most one per name; also the index that list() walks.
        Index(
            "uq_documents_live_name",
            "tenant_id",
            "name",
            unique=True,
            sqlite_where=text("state = 'LIVE'"),
            postgresql_where=text("state = 'LIVE'"),
        ),
        Index("ix_documents_state", "state"),
        Index("uq_documents_tenant_generation", "tenant_id", "generation", unique=True),
        # Generations must never repeat, even after the newest row is deleted.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    generation: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    name: Mapped[str] = mapped_column(DOCUMENT_NAME)
    state: Mapped[str] = mapped_column(String(16))
    blob_key: Mapped[str] = mapped_column(String(512), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(HASH_HEX)
    tk_id: Mapped[str | None] = mapped_column(TK_ID)
    # docs/FORMAT.md#bound-context: the write id bound into the blob (NULL: written before v2).
    write_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEventRow(Base):
    """One audit event with its place in the hash chain (never data or key material)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_id_seq", "tenant_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(256))
    tenant_id: Mapped[str | None] = mapped_column(TENANT_ID)
    operation: Mapped[str] = mapped_column(String(64))
    document: Mapped[str | None] = mapped_column(DOCUMENT_NAME)
    tk_id: Mapped[str | None] = mapped_column(TK_ID)
    kms_request_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(HASH_HEX)
    hash: Mapped[str] = mapped_column(HASH_HEX)


class AuditChainHead(Base):
    """The single row (id 1) naming the chain's last event; the append lock."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(HASH_HEX)


class LeaseRow(Base):
    """A named lease: ``holder`` may run the job called ``name`` until ``expires_at``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
