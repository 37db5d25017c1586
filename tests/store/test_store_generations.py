"""Migration 0007: existing documents keep their numbers as per-tenant generations and each
tenant's counter continues after its highest (issue 12, finding 7)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from byok.store.database import Store, _alembic_config


def _at_revision(url: str, revision: str) -> None:
    store = Store.open(url, migrate=False)
    with store._write_engine.begin() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    store.close()


def test_existing_documents_keep_their_numbers_and_counters_continue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _at_revision(url, "0006_write_id_and_seal")
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    store = Store.open(url, migrate=False)
    with store._write_engine.begin() as connection:
        for tenant in ("acme", "globex"):
            connection.execute(
                text("INSERT INTO tenants (id, name, state, external_id, created_at, updated_at)"
                     " VALUES (:t, :t, 'ACTIVE', :e, :n, :n)"),
                {"t": tenant, "e": f"ext-{tenant}", "n": now},
            )  # fmt: skip
        for i, tenant in enumerate(["acme", "globex", "acme", "globex", "globex"]):
            connection.execute(
                text("INSERT INTO documents (tenant_id, name, state, blob_key, size, sha256, "
                     "created_at, updated_at) VALUES (:t, :name, 'LIVE', :k, 1, :h, :n, :n)"),
                {"t": tenant, "name": f"d{i}", "k": f"{tenant}/k{i}", "h": "0" * 64, "n": now},
            )  # fmt: skip
    store.close()
    store = Store.open(url)  # migrates to the head
    with store.read() as session:
        rows = session.execute(text("SELECT tenant_id, id, generation FROM documents")).all()
        counters = dict(session.execute(text("SELECT id, document_generation FROM tenants")).all())
    store.close()
    assert all(row.id == row.generation for row in rows)
    assert counters == {"acme": 3, "globex": 5}
