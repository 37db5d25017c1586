"""Alembic migrations of the byok metadata schema (applied by ``Store.migrate``)."""
