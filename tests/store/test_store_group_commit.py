"""Group commit (``byok.store.group_commit``): concurrent writes share durable commits, a
failing item is rolled back alone, a failed commit fails every caller of its batch, and
the audit chain stays one gapless, verifiable order throughout (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from byok.core.audit_chain import AuditEvent, verify_chain
from byok.errors import Conflict, StorageError
from byok.store import AuditLog, Store
from byok.store.database import translate_errors
from byok.store.group_commit import GroupCommit, WriteBatch
from byok.store.schema import AuditEventRow, TenantRow

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _event(operation: str) -> AuditEvent:
    return AuditEvent(seq=0, time=T0, actor="t", tenant=None, operation=operation, outcome="ok")


def _chain_ok(store: Store) -> list[str]:
    events = list(AuditLog(store).events())
    assert [c.event.seq for c in events] == list(range(1, len(events) + 1))  # no gap
    assert verify_chain((c.event, c.hash) for c in events).ok
    return [c.event.operation for c in events]


def test_concurrent_appends_share_commits_and_form_one_chain(store: Store) -> None:
    log, threads, per_thread = AuditLog(store), 12, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(index: int) -> None:
        start.wait()
        try:
            for n in range(per_thread):
                log.append(_event(f"op:{index}:{n}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors
    assert sorted(_chain_ok(store)) == sorted(
        f"op:{i}:{n}" for i in range(threads) for n in range(per_thread)
    )
    assert store.batched.items == threads * per_thread
    assert store.batched.batches < store.batched.items  # commits were shared


def _queue_behind_a_held_batch(
    group: GroupCommit, works: list[object]
) -> tuple[list[object], threading.Event]:
    """Run a first item that holds its batch open until released, queue ``works`` behind
    it (so they form the next batch together); return their outcomes and the release."""
    holding, release = threading.Event(), threading.Event()
    outcomes: list[object] = [None] * len(works)

    def hold(batch: WriteBatch) -> str:
        holding.set()
        release.wait(30)
        return batch.audit.append(_event("first")).event.operation

    def call(index: int) -> None:
        try:
            outcomes[index] = group.run(works[index])  # type: ignore[arg-type]
        except Exception as exc:
            outcomes[index] = exc

    leader = threading.Thread(target=lambda: group.run(hold))
    leader.start()
    assert holding.wait(30)
    callers = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    for caller in callers:
        caller.start()
    while group.queued < len(works):  # all of them queued behind the held batch
        threading.Event().wait(0.01)
    release.set()
    for thread in [leader, *callers]:
        thread.join(timeout=60)
    return outcomes, release


def test_a_failing_item_is_rolled_back_alone_with_its_audit_events(store: Store) -> None:
    def good(name: str) -> object:
        def work(batch: WriteBatch) -> str:
            batch.session.add(TenantRow(**_tenant(name)))
            return batch.audit.append(_event(f"create:{name}")).event.operation

        return work

    def bad(batch: WriteBatch) -> str:
        batch.audit.append(_event("create:dup"))
        batch.session.add(TenantRow(**_tenant("t-one")))  # same id as the first good one
        batch.session.flush()
        return "unreachable"

    before = store.batched.batches
    outcomes, _ = _queue_behind_a_held_batch(store.batched, [good("t-one"), bad, good("t-two")])
    assert store.batched.batches == before + 2  # the held batch, then the three together
    assert outcomes[0] == "create:t-one" and outcomes[2] == "create:t-two"
    assert isinstance(outcomes[1], Conflict)
    assert _chain_ok(store) == ["first", "create:t-one", "create:t-two"]
    with store.read() as session:
        names = set(session.scalars(select(TenantRow.id)))
    assert names == {"t-one", "t-two"}


def test_a_failed_commit_fails_every_caller_of_the_batch_and_writes_nothing(
    store: Store,
) -> None:
    @contextmanager
    def failing_commit() -> Iterator[Session]:
        with store.write() as session:
            yield session
            raise StorageError("disk full (simulated at commit)")

    group = GroupCommit(failing_commit, translate_errors)
    log_work = [lambda batch, i=i: batch.audit.append(_event(f"e{i}")) for i in range(3)]
    for work in log_work:
        with pytest.raises(StorageError, match="disk full"):
            group.run(work, savepoint=False)
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEventRow)) == 0
    assert AuditLog(store).head()[0] == 0
    AuditLog(store).append(_event("after"))  # the store still works
    assert _chain_ok(store) == ["after"]


def _tenant(name: str) -> dict[str, object]:
    return {"id": name, "name": name, "external_id": f"byok-ext-{name}", "state": "PENDING",
            "created_at": T0, "updated_at": T0}  # fmt: skip
