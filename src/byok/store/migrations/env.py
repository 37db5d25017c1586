"""Alembic environment: runs only on the connection ``byok.store.Store.migrate`` passes in.

On PostgreSQL a transaction-scoped advisory lock makes concurrent ``migrate()`` calls from
several service processes run one after the other; on SQLite the caller's ``BEGIN
IMMEDIATE`` does the same.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

import byok.store.console_sessions
import byok.store.key_policies
import byok.store.signals
import byok.store.tokens  # noqa: F401 - registers its table on Base.metadata
from byok.store.schema import Base

# Any constant works; it only has to be the same in every byok process ("byok" in ASCII).
MIGRATION_LOCK_KEY = 0x62796F6B

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("byok migrations run through byok.store.Store.migrate(), online only")

context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.run_migrations()
