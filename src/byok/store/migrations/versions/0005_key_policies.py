"""Per-tenant key policies and accepted key events (``byok.store.key_policies``).

Revision ID: 0005_key_policies
Revises: 0004_console_sessions
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from byok.store.schema import TENANT_ID
from byok.store.schema import UtcDateTime as Utc

revision: str = "0005_key_policies"
down_revision: str | None = "0004_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_policies",
        sa.Column("tenant_id", TENANT_ID, nullable=False),
        sa.Column("outage_grace_s", sa.Float(), nullable=False),
        sa.Column("event_secret_hash", sa.String(64), nullable=True),
        sa.Column("webhook_url", sa.String(2048), nullable=True),
        sa.Column("webhook_secret", sa.String(64), nullable=True),
        sa.Column("notify_every_s", sa.Float(), nullable=True),
        sa.Column("on_key_loss", sa.String(8), nullable=False),
        sa.Column("shred_after_s", sa.Float(), nullable=True),
        sa.Column("unavailable_since", Utc(), nullable=True),
        sa.Column("last_notified_at", Utc(), nullable=True),
        sa.Column("updated_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_policies"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_policies_tenant_id_tenants"
        ),
    )
    op.create_table(
        "key_events",
        sa.Column("tenant_id", TENANT_ID, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("received_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "event_id", name="pk_key_events"),
    )
    op.create_index("ix_key_events_received_at", "key_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("key_events")
    op.drop_table("tenant_policies")
