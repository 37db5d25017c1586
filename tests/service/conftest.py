"""Fixtures: a vendor service over the local AWS, on SQLite and on PostgreSQL.

Each test gets fresh AWS accounts (vendor, customer) from the session's local AWS and a
fresh database: SQLite in a temporary folder, or the PostgreSQL test database emptied
first (``BYOK_TEST_POSTGRES_URL``; skipped with that reason when unset).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.world import World, build_vendor, new_customer


@pytest.fixture
def world(local_aws: Any, database_url: str, tmp_path: Path) -> Iterator[World]:
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs")
    yield World(vendor, vendor.settings.vendor_account, new_customer(local_aws, role_arn))
    vendor.store.close()
