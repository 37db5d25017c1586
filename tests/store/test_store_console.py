"""Console sessions and dashboard queries, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from byok.core.audit_chain import AuditEvent
from byok.store import Store
from byok.store.audit import AuditLog
from byok.store.console_sessions import ConsoleSessions
from byok.store.overview import document_usage, latest_events
from byok.store.tokens import TokenRepository


def test_a_session_resolves_to_its_token_until_closed(store: Store, tenant: str) -> None:
    minted = TokenRepository(store).mint("tenant-admin", tenant=tenant)
    sessions = ConsoleSessions(store)
    opened = sessions.open(minted.grant)
    assert opened.secret not in repr(opened) and minted.token not in opened.secret
    grant = sessions.resolve(opened.secret)
    assert grant is not None and grant.token_id == minted.grant.token_id
    assert grant.tenant == tenant
    assert sessions.resolve(opened.secret + "x") is None
    assert sessions.resolve("") is None and sessions.resolve("a" * 10_000) is None
    sessions.close(opened.secret)
    assert sessions.resolve(opened.secret) is None
    sessions.close(opened.secret)  # idempotent


def test_a_revoked_token_or_an_expired_session_resolves_to_nothing(
    store: Store, tenant: str
) -> None:
    tokens = TokenRepository(store)
    minted = tokens.mint("tenant-admin", tenant=tenant)
    now = [datetime(2026, 12, 3, 10, 0, tzinfo=UTC)]
    clocked = Store(store.engine, clock=lambda: now[0])
    sessions = ConsoleSessions(clocked, lifetime=timedelta(minutes=5))
    opened = sessions.open(minted.grant)
    now[0] += timedelta(minutes=4)
    assert sessions.resolve(opened.secret) is not None
    now[0] += timedelta(minutes=2)
    assert sessions.resolve(opened.secret) is None
    other = ConsoleSessions(store).open(minted.grant)
    assert ConsoleSessions(store).resolve(other.secret) is not None
    tokens.revoke(minted.grant.token_id)
    assert ConsoleSessions(store).resolve(other.secret) is None


def test_the_database_keeps_only_a_hash_of_the_cookie_secret(store: Store, tenant: str) -> None:
    minted = TokenRepository(store).mint("operator")
    opened = ConsoleSessions(store).open(minted.grant)
    with store.engine.connect() as connection:
        dump = repr(connection.exec_driver_sql("SELECT * FROM console_sessions").all())
    assert opened.secret not in dump and minted.token not in dump


def _event(tenant: str | None, operation: str, outcome: str = "ok") -> AuditEvent:
    return AuditEvent(seq=0, time=datetime.now(UTC), actor="test", tenant=tenant,
                      operation=operation, outcome=outcome)  # fmt: skip


def test_latest_events_newest_first_with_filters(store: Store, tenant: str) -> None:
    log = AuditLog(store)
    for event in (
        _event(tenant, "kms:GenerateDataKey"), _event(tenant, "document:put"),
        _event(tenant, "document:get", "KeyDisabled"), _event("other", "kms:Decrypt"),
        _event(tenant, "kms:Decrypt"),
    ):  # fmt: skip
        log.append(event)
    ops = [e.event.operation for e in latest_events(store, tenant=tenant)]
    assert ops == ["kms:Decrypt", "document:get", "document:put", "kms:GenerateDataKey"]
    use = [e.event.operation for e in latest_events(store, tenant=tenant, key_use=True)]
    assert use == ["kms:Decrypt", "document:get", "kms:GenerateDataKey"]
    refused = latest_events(store, refused_only=True)
    assert [e.event.outcome for e in refused] == ["KeyDisabled"]
    assert len(latest_events(store, limit=2)) == 2


def test_document_usage_of_an_empty_tenant(store: Store, tenant: str) -> None:
    usage = document_usage(store, tenant)
    assert (usage.documents, usage.stored_bytes) == (0, 0)
