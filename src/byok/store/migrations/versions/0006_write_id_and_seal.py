"""Rollback-proof reads and composite wrap: ``documents.write_id``, ``tenant_keys.seal``.

``documents.write_id``: the per-write random id bound into a v2 document's header
(docs/FORMAT.md#bound-context); NULL for documents written before (their reads check the
stored SHA-256 instead). ``tenant_keys.seal``: 0 for a TK wrapped by the customer's CMK
only, 1 when the wrapped TK is also sealed under the tenant's vendor key
(docs/SECURITY.md#offboarding-and-backups).

Revision ID: 0006_write_id_and_seal
Revises: 0005_key_policies
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_write_id_and_seal"
down_revision: str | None = "0005_key_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("write_id", sa.String(64), nullable=True))
    with op.batch_alter_table("tenant_keys") as batch:
        batch.add_column(
            sa.Column("seal", sa.SmallInteger(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("tenant_keys") as batch:
        batch.drop_column("seal")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("write_id")
