"""The exact KMS context of each tenant key: ``tenant_keys.kms_context``.

A TK made from now on carries ``byok:scope`` and ``byok:period`` in its KMS encryption
context besides ``byok:tenant`` and ``byok:tk`` (docs/SECURITY.md#scoped-tenant-keys). KMS
only unwraps under the exact context used to wrap, so the row records it. Existing rows stay
NULL: their context was always ``{byok:tenant, byok:tk}`` and they keep working.

Revision ID: 0009_tenant_key_context
Revises: 0008_key_bindings
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_tenant_key_context"
down_revision: str | None = "0008_key_bindings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenant_keys", sa.Column("kms_context", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_keys") as batch:
        batch.drop_column("kms_context")
