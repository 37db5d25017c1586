"""Fixtures of the key-lifecycle tests: a vendor over the local AWS on SQLite and PostgreSQL.

``database_url`` is the shared one (``tests/support/fixtures.py``); ``world`` gives a vendor that
makes a new TK every 2 documents (so a tenant has many TKs), and a customer account.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_world import rotating

from support.world import World, build_vendor, new_customer


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'byok.db'}"


def _world(local_aws: Any, url: str, tmp_path: Path) -> Iterator[World]:
    vendor, role_arn = build_vendor(local_aws, url, tmp_path / "blobs")
    yield World(
        rotating(vendor, 2), vendor.settings.vendor_account, new_customer(local_aws, role_arn)
    )
    vendor.store.close()


@pytest.fixture
def world(local_aws: Any, database_url: str, tmp_path: Path) -> Iterator[World]:
    """On SQLite and PostgreSQL."""
    yield from _world(local_aws, database_url, tmp_path)


@pytest.fixture
def sqlite_world(local_aws: Any, sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    """On SQLite only (tests whose SQL is covered by the ``world`` ones)."""
    yield from _world(local_aws, sqlite_url, tmp_path)
