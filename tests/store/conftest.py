"""Fixtures for the store suite: every test runs on SQLite and on PostgreSQL.

PostgreSQL tests need ``BYOK_TEST_POSTGRES_URL`` (``make test`` sets it from
``scripts/ensure-postgres.sh``); without it they skip and say so. The session works in its
own schema (``search_path``; dropped at the end), migrated once and emptied before every
test, so tests never see each other's rows; migration tests get a brand-new schema each.
Blob-store tests run on the filesystem and, through the ``local_aws`` fixture, on S3.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from byok.store import BlobStore, FilesystemBlobStore, Store, TenantRepository
from byok.store.s3 import MIN_PART_SIZE, S3BlobStore
from support.databases import fresh_schema

# ``database_url`` (migrated, empty; SQLite and PostgreSQL) is the shared one in
# tests/support/fixtures.py.


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta' / 'byok.db'}"
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    opened = Store.open(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def tenants(store: Store) -> TenantRepository:
    return TenantRepository(store)


@pytest.fixture
def tenant(tenants: TenantRepository) -> str:
    """A PENDING tenant ``acme``; its id."""
    tenants.create("acme", name="Acme", external_id=f"byok-{secrets.token_hex(8)}")
    return "acme"


@pytest.fixture
def filesystem_blobs(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


@pytest.fixture
def s3_blobs(request: pytest.FixtureRequest) -> S3BlobStore:
    """An S3 blob store on a fresh bucket of a fresh local-AWS account."""
    return s3_blob_store(request)


def s3_blob_store(request: pytest.FixtureRequest) -> S3BlobStore:
    """An S3 blob store on a fresh bucket of a fresh local-AWS account, or skip."""
    try:
        local_aws = request.getfixturevalue("local_aws")
    except pytest.FixtureLookupError:
        pytest.skip("the local_aws fixture (byok.localaws.pytest_plugin) is not available")
    account = local_aws.new_account()
    client = local_aws.client("s3", account)
    bucket = f"byok-blobs-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=bucket)
    return S3BlobStore(client, bucket, namespace="docs", part_size=MIN_PART_SIZE)


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.localaws)])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """Each blob backend, for the shared suite."""
    if request.param == "filesystem":
        return FilesystemBlobStore(tmp_path / "blobs")
    return s3_blob_store(request)
