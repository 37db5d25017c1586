"""Scopes, periods and access reasons: per-tenant scope rules and per-reason TK copies.

* ``tenant_keys.scope``: the ``byok:scope`` of each TK (NULL for TKs made before scopes: they
  serve the ``default`` scope), so the current TK of a scope is one indexed query.
* ``tenant_key_copies``: a TK wrapped once more for each access reason (``byok:reason`` is
  in the KMS context, and KMS unwraps only under the exact context), sealed like the TK row.
* ``tenant_policies``: ``scope_rules`` (document-name prefix → scope), ``period_unit``
  (month, day or hour) and ``refused`` (the scopes, periods and reasons the customer's key
  policy refused, with when; the tenant stays ACTIVE).

Revision ID: 0010_scopes_and_reasons
Revises: 0009_tenant_key_context
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from byok.store.schema import ARN, TENANT_ID, TK_ID
from byok.store.schema import UtcDateTime as Utc

revision: str = "0010_scopes_and_reasons"
down_revision: str | None = "0009_tenant_key_context"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenant_keys", sa.Column("scope", sa.String(64), nullable=True))
    op.create_index("ix_tenant_keys_tenant_id_scope", "tenant_keys", ["tenant_id", "scope"])
    op.create_table(
        "tenant_key_copies",
        sa.Column("tenant_id", TENANT_ID, nullable=False),
        sa.Column("tk_id", TK_ID, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("key_arn", ARN, nullable=False),
        sa.Column("key_config_version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("seal", sa.SmallInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "tk_id", "reason", name="pk_tenant_key_copies"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_key_copies_tenant_id_tenants"
        ),
    )
    op.add_column("tenant_policies", sa.Column("scope_rules", sa.JSON(), nullable=True))
    op.add_column("tenant_policies", sa.Column("period_unit", sa.String(8), nullable=True))
    op.add_column("tenant_policies", sa.Column("refused", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_policies") as batch:
        batch.drop_column("refused")
        batch.drop_column("period_unit")
        batch.drop_column("scope_rules")
    op.drop_table("tenant_key_copies")
    op.drop_index("ix_tenant_keys_tenant_id_scope", table_name="tenant_keys")
    with op.batch_alter_table("tenant_keys") as batch:
        batch.drop_column("scope")
