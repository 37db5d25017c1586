"""Cluster signals (``byok.store.signals``): one row per change other nodes must hear of.

Revision ID: 0003_signals
Revises: 0002_api_tokens
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from byok.store.schema import BIG_ID, TENANT_ID
from byok.store.schema import UtcDateTime as Utc

revision: str = "0003_signals"
down_revision: str | None = "0002_api_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tenant", TENANT_ID, nullable=True),
        sa.Column("subject", sa.String(256), nullable=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("created_at", Utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
        # SQLite: ids never reused, even after every row was pruned (listeners keep the max).
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("signals")
