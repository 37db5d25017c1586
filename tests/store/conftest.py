"""Fixtures for the store suite: every test runs on SQLite and on PostgreSQL.

PostgreSQL tests need ``BYOK_TEST_POSTGRES_URL`` (``make test`` sets it from
``scripts/ensure-postgres.sh``); without it they skip and say so. The session works in its
own schema (``search_path``; dropped at the end), migrated once and emptied before every
test, so tests never see each other's rows; migration tests get a brand-new schema each.
Blob-store tests run on the filesystem and, through the ``local_aws`` fixture, on S3.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from byok.core.audit_chain import GENESIS_HASH
from byok.store import BlobStore, FilesystemBlobStore, Store, TenantRepository
from byok.store.s3 import MIN_PART_SIZE, S3BlobStore

POSTGRES_ENV = "BYOK_TEST_POSTGRES_URL"
# Children before parents (foreign keys).
DATA_TABLES = ("documents", "tenant_keys", "key_configs", "tenants", "audit_events", "leases")


def postgres_base_url() -> str:
    """The PostgreSQL test database URL, or skip (with the reason) when none is configured."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: run `make test` (scripts/ensure-postgres.sh)")
    return url


def _schema_url(base: URL, schema: str) -> str:
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def _fresh_schema() -> Iterator[str]:
    """Create an empty PostgreSQL schema; yield a URL using it; drop it afterwards."""
    base = make_url(postgres_base_url()).set(drivername="postgresql+psycopg")
    schema = f"byok_test_{secrets.token_hex(6)}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _schema_url(base, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """One migrated schema for the whole session (tests empty it, see ``database_url``)."""
    with _fresh_schema() as url:
        Store.open(url).close()
        yield url


def _empty_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in DATA_TABLES:  # DELETE is much cheaper than TRUNCATE on tiny tables
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(
            text("UPDATE audit_chain_head SET last_seq = 0, last_hash = :genesis"),
            {"genesis": GENESIS_HASH},
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database with no data: a new SQLite file, or the emptied PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'byok.db'}"
    url: str = request.getfixturevalue("postgres_session_url")
    _empty_tables(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta' / 'byok.db'}"
        return
    with _fresh_schema() as url:
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
