"""PostgreSQL for tests: one schema per test session (``search_path``), emptied per test.

Tests never see each other's rows, and concurrent test runs on one machine never touch each
other's schemas. Without ``BYOK_TEST_POSTGRES_URL`` (``make test`` sets it from
``scripts/ensure-postgres.sh``) PostgreSQL tests skip and say why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from byok.core.audit_chain import GENESIS_HASH

__all__ = ["DATA_TABLES", "POSTGRES_ENV", "empty_tables", "fresh_schema", "postgres_base_url"]

POSTGRES_ENV = "BYOK_TEST_POSTGRES_URL"
# Children before parents (foreign keys).
DATA_TABLES = (
    "tenant_policies",
    "key_events",
    "documents",
    "tenant_key_copies",
    "tenant_keys",
    "console_sessions",
    "key_bindings",
    "key_configs",
    "api_tokens",
    "tenants",
    "audit_events",
    "leases",
    "signals",
)


def postgres_base_url() -> str:
    """The PostgreSQL test database URL, or skip (with the reason) when none is configured."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: run `make test` (scripts/ensure-postgres.sh)")
    return url


def schema_url(base: URL, schema: str) -> str:
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_schema() -> Iterator[str]:
    """Create an empty PostgreSQL schema; yield a URL using it; drop it afterwards."""
    base = make_url(postgres_base_url()).set(drivername="postgresql+psycopg")
    schema = f"byok_test_{secrets.token_hex(6)}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield schema_url(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def empty_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in DATA_TABLES:  # DELETE is much cheaper than TRUNCATE on tiny tables
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(
            text("UPDATE audit_chain_head SET last_seq = 0, last_hash = :genesis"),
            {"genesis": GENESIS_HASH},
        )
    engine.dispose()
