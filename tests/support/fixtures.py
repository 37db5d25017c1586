"""Fixtures shared by the integration suites (registered in tests/conftest.py).

``database_url`` runs a test on SQLite (a new file) and on PostgreSQL (this session's own
schema, emptied first); suites with special needs (tests/store) define their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from byok.store.database import Store
from support.databases import empty_tables, fresh_schema


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """This session's own migrated PostgreSQL schema (emptied before each test)."""
    with fresh_schema() as url:
        Store.open(url).close()
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'byok.db'}"
    url: str = request.getfixturevalue("postgres_session_url")
    empty_tables(url)
    return url
