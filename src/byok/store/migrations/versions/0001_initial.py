"""Initial schema: tenants, key configs, tenant keys, documents, audit log, leases.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from byok.core.audit_chain import GENESIS_HASH
from byok.store.schema import ARN, BIG_ID, DOCUMENT_NAME, EXTERNAL_ID, HASH_HEX, TENANT_ID, TK_ID
from byok.store.schema import UtcDateTime as Utc

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TENANT_STATES = "state IN ('PENDING', 'VERIFIED', 'ACTIVE', 'KEY_UNAVAILABLE', 'OFFBOARDED')"
_CONFIG_STATES = "state IN ('PENDING', 'VERIFIED', 'FAILED', 'ACTIVE', 'RETIRED')"
_DOCUMENT_STATES = "state IN ('LIVE', 'REPLACED', 'DELETED')"


def upgrade() -> None:
    _tenants()
    _key_configs()
    _tenant_keys()
    _documents()
    _audit()
    op.create_table(
        "leases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("expires_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def _tenants() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", TENANT_ID, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_detail", sa.String(2048), nullable=True),
        sa.Column("external_id", EXTERNAL_ID, nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("updated_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("external_id", name="uq_tenants_external_id"),
        sa.CheckConstraint(_TENANT_STATES, name="ck_tenants_state"),
    )


def _key_configs() -> None:
    op.create_table(
        "key_configs",
        sa.Column("tenant_id", TENANT_ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("key_arn", ARN, nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("client_role_arn", ARN, nullable=True),
        sa.Column("external_id", EXTERNAL_ID, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("verification", sa.JSON(), nullable=True),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("updated_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "version", name="pk_key_configs"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_key_configs_tenant_id_tenants"
        ),
        sa.CheckConstraint(_CONFIG_STATES, name="ck_key_configs_state"),
        sa.CheckConstraint("mode IN ('direct', 'assume-role')", name="ck_key_configs_mode"),
        sa.CheckConstraint("version >= 1", name="ck_key_configs_version"),
    )
    op.create_index(
        "uq_key_configs_one_active",
        "key_configs",
        ["tenant_id"],
        unique=True,
        sqlite_where=sa.text("state = 'ACTIVE'"),
        postgresql_where=sa.text("state = 'ACTIVE'"),
    )


def _tenant_keys() -> None:
    op.create_table(
        "tenant_keys",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("tenant_id", TENANT_ID, nullable=False),
        sa.Column("tk_id", TK_ID, nullable=False),
        sa.Column("key_arn", ARN, nullable=False),
        sa.Column("key_config_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("documents_encrypted", sa.BigInteger(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenant_keys"),
        sa.UniqueConstraint("tenant_id", "tk_id", name="uq_tenant_keys_tenant_id_tk_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_keys_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "key_config_version"],
            ["key_configs.tenant_id", "key_configs.version"],
            name="fk_tenant_keys_tenant_id_key_config_version_key_configs",
        ),
        sa.CheckConstraint("documents_encrypted >= 0", name="ck_tenant_keys_documents_encrypted"),
        sqlite_autoincrement=True,
    )


def _documents() -> None:
    op.create_table(
        "documents",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("tenant_id", TENANT_ID, nullable=False),
        sa.Column("name", DOCUMENT_NAME, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", HASH_HEX, nullable=False),
        sa.Column("tk_id", TK_ID, nullable=True),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("updated_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("blob_key", name="uq_documents_blob_key"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_documents_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tk_id"],
            ["tenant_keys.tenant_id", "tenant_keys.tk_id"],
            name="fk_documents_tenant_id_tk_id_tenant_keys",
        ),
        sa.CheckConstraint(_DOCUMENT_STATES, name="ck_documents_state"),
        sa.CheckConstraint("size >= 0", name="ck_documents_size"),
        sqlite_autoincrement=True,  # generations never repeat
    )
    op.create_index(
        "uq_documents_live_name",
        "documents",
        ["tenant_id", "name"],
        unique=True,
        sqlite_where=sa.text("state = 'LIVE'"),
        postgresql_where=sa.text("state = 'LIVE'"),
    )
    op.create_index("ix_documents_state", "documents", ["state"])


def _audit() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("time", Utc(), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("tenant_id", TENANT_ID, nullable=True),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("document", DOCUMENT_NAME, nullable=True),
        sa.Column("tk_id", TK_ID, nullable=True),
        sa.Column("kms_request_id", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", HASH_HEX, nullable=False),
        sa.Column("hash", HASH_HEX, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_tenant_id_seq", "audit_events", ["tenant_id", "seq"])
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", HASH_HEX, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain_head"),
        sa.CheckConstraint("id = 1", name="ck_audit_chain_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])


def downgrade() -> None:
    for table in (
        "leases",
        "audit_chain_head",
        "audit_events",
        "documents",
        "tenant_keys",
        "key_configs",
        "tenants",
    ):
        op.drop_table(table)
