"""Per-tenant document generations: ``documents.generation``, ``tenants.document_generation``.

A document's generation was its row id, one counter for the whole store: a tenant could
read from two of its own generations how many writes other tenants made in between. Each
tenant now has its own counter. Existing rows keep their old number as their generation
(still unique and increasing within each tenant), and each tenant's counter starts after
its highest, so no generation is ever issued twice for a tenant.

Revision ID: 0007_tenant_generations
Revises: 0006_write_id_and_seal
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_tenant_generations"
down_revision: str | None = "0006_write_id_and_seal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (NOT NULL with a default is allowed on SQLite): no table rebuild, so
    # the foreign keys into ``tenants`` and the partial LIVE-name index stay as they are.
    op.add_column("tenants", sa.Column("document_generation", sa.BigInteger(), nullable=False,
                                       server_default=sa.text("0")))  # fmt: skip
    op.add_column("documents", sa.Column("generation", sa.BigInteger(), nullable=False,
                                         server_default=sa.text("0")))  # fmt: skip
    op.execute("UPDATE documents SET generation = id")
    op.execute(
        "UPDATE tenants SET document_generation = COALESCE("
        "(SELECT MAX(d.generation) FROM documents d WHERE d.tenant_id = tenants.id), 0)"
    )
    op.create_index(
        "uq_documents_tenant_generation", "documents", ["tenant_id", "generation"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_documents_tenant_generation", table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("generation")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("document_generation")
