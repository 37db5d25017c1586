"""Fixtures: a vendor service over the local AWS, on SQLite and on PostgreSQL.

Each test gets fresh AWS accounts (vendor, customer) from the session's local AWS and a
fresh database: SQLite in a temporary folder, or the PostgreSQL test database emptied
first (``BYOK_TEST_POSTGRES_URL``; skipped with that reason when unset).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.world import World, build_vendor, fresh_postgres, new_customer


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'byok.db'}"
    url = os.environ.get("BYOK_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "BYOK_TEST_POSTGRES_URL is not set (make test sets it via scripts/ensure-postgres.sh)"
        )
    return fresh_postgres(url)


@pytest.fixture
def world(local_aws: Any, database_url: str, tmp_path: Path) -> Iterator[World]:
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs")
    yield World(vendor, vendor.settings.vendor_account, new_customer(local_aws, role_arn))
    vendor.store.close()
