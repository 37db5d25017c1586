"""Fixtures for the API tests: a real Vendor over the local AWS, served by the real app
(worlds are built by ``api_world.make_world``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from api_world import ApiWorld, make_world

from support.world import fresh_postgres


@pytest.fixture(scope="module")
def api(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """An onboarded world on SQLite, shared by one module's tests."""
    folder = tmp_path_factory.mktemp("api")
    world = make_world(
        local_aws, f"sqlite:///{folder / 'byok.db'}", folder / "blobs", max_body_bytes=8 << 20
    )
    with world.client:
        yield world
    world.vendor.store.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_any_db(
    request: pytest.FixtureRequest, local_aws: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiWorld]:
    """The same world on SQLite and on PostgreSQL (skipped without BYOK_TEST_POSTGRES_URL)."""
    folder = tmp_path_factory.mktemp("api-db")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'byok.db'}"
    else:
        postgres = os.environ.get("BYOK_TEST_POSTGRES_URL")
        if not postgres:
            pytest.skip("BYOK_TEST_POSTGRES_URL is not set (make test sets it)")
        url = fresh_postgres(postgres)
    world = make_world(local_aws, url, folder / "blobs")
    with world.client:
        yield world
    world.vendor.store.close()
