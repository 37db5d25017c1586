"""The metadata store seam: migrations, connection settings, error translation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

import byok.store.console_sessions
import byok.store.tokens  # noqa: F401 - every model module, so the metadata is complete
from byok.errors import StorageError
from byok.store import Store
from byok.store.schema import Base, TenantRow

TABLES = {
    "alembic_version",
    "api_tokens",
    "audit_chain_head",
    "audit_events",
    "console_sessions",
    "documents",
    "key_bindings",
    "key_configs",
    "key_events",
    "leases",
    "signals",
    "tenant_key_copies",
    "tenant_keys",
    "tenant_policies",
    "tenants",
}


def test_open_applies_the_initial_migration(empty_database_url: str) -> None:
    store = Store.open(empty_database_url)
    assert store.schema_revision() == Store.head_revision() == "0010_scopes_and_reasons"
    assert set(inspect(store.engine).get_table_names()) == TABLES
    store.close()


def test_migration_matches_the_orm_models(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_migrate_is_idempotent_and_safe_concurrently(empty_database_url: str) -> None:
    database_url = empty_database_url
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            Store.open(database_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = Store.open(database_url)
    assert store.schema_revision() == Store.head_revision()
    store.close()


def test_open_without_migrate_leaves_an_empty_database(empty_database_url: str) -> None:
    store = Store.open(empty_database_url, migrate=False)
    assert store.schema_revision() is None
    assert "tenants" not in inspect(store.engine).get_table_names()
    store.close()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'x.db'}")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    store.close()


def test_unreachable_database_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        Store.open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    assert "metadata database" in caught.value.message
    assert caught.value.__cause__ is not None


def test_times_come_back_as_aware_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=plus_two)
    with store.write() as session:
        session.add(
            TenantRow(
                id="t1", name="T", state="PENDING", state_detail=None, external_id="byok-x1",
                created_at=moment, updated_at=moment,
            )
        )  # fmt: skip
    with store.read() as session:
        row = session.scalars(select(TenantRow)).one()
    assert row.created_at == moment
    assert row.created_at.tzinfo == UTC


def test_naive_times_are_refused(store: Store) -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(StorageError), store.write() as session:
        session.add(
            TenantRow(
                id="t1", name="T", state="PENDING", state_detail=None, external_id="byok-x1",
                created_at=naive, updated_at=naive,
            )
        )  # fmt: skip


def test_check_constraints_hold_in_the_database(store: Store) -> None:
    now = datetime.now(UTC)
    with pytest.raises(StorageError), store.write() as session:
        session.execute(
            text(
                "INSERT INTO tenants (id, name, state, external_id, created_at, updated_at) "
                "VALUES ('t', 'T', 'BOGUS', 'byok-x', :now, :now)"
            ),
            {"now": now},
        )


def test_read_transactions_never_commit(store: Store) -> None:
    now = datetime.now(UTC)
    with store.read() as session:
        session.add(
            TenantRow(
                id="t1", name="T", state="PENDING", state_detail=None, external_id="byok-x1",
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        session.flush()
    with store.read() as session:
        assert session.scalars(select(TenantRow)).all() == []
