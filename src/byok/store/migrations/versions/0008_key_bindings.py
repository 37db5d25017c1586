"""Tenant <-> key binding: ``key_bindings`` (one tenant per customer key and client role) and
who submitted / approved each key configuration (``byok.store.bindings``).

Revision ID: 0008_key_bindings
Revises: 0007_tenant_generations
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from byok.store.schema import TENANT_ID
from byok.store.schema import UtcDateTime as Utc

revision: str = "0008_key_bindings"
down_revision: str | None = "0007_tenant_generations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "key_bindings",
        sa.Column("resource", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tenant_id", TENANT_ID, nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("resource", name="pk_key_bindings"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_key_bindings_tenant_id_tenants"
        ),
        sa.CheckConstraint("kind IN ('key', 'client-role')", name="ck_key_bindings_kind"),
    )
    with op.batch_alter_table("key_configs") as batch:
        batch.add_column(sa.Column("submitted_by", sa.String(256), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(256), nullable=True))
        batch.add_column(sa.Column("approved_at", Utc(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("key_configs") as batch:
        batch.drop_column("approved_at")
        batch.drop_column("approved_by")
        batch.drop_column("submitted_by")
    op.drop_table("key_bindings")
