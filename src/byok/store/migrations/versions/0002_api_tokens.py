"""API tokens (``byok.store.tokens``): hashed bearer tokens scoped to a tenant and a role.

Revision ID: 0002_api_tokens
Revises: 0001_initial
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from byok.store.schema import TENANT_ID
from byok.store.schema import UtcDateTime as Utc

revision: str = "0002_api_tokens"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("tenant_id", TENANT_ID, nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.String(256), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.Column("revoked_at", Utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_api_tokens_tenant_id_tenants"
        ),
        sa.CheckConstraint(
            "role IN ('operator', 'tenant-admin', 'writer', 'reader')", name="ck_api_tokens_role"
        ),
        sa.CheckConstraint(
            "(role = 'operator' AND tenant_id IS NULL) "
            "OR (role <> 'operator' AND tenant_id IS NOT NULL)",
            name="ck_api_tokens_scope",
        ),
    )
    op.create_index("ix_api_tokens_tenant_id", "api_tokens", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("api_tokens")
