"""The audit table: serialised append gives one contiguous, verifiable chain."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

from byok.core.audit_chain import GENESIS_HASH, AuditEvent, verify_chain
from byok.store import AuditLog, Store

T0 = datetime(2026, 11, 29, 6, 0, 0, 123456, tzinfo=UTC)


def _event(operation: str, tenant: str | None = "acme", **extra: object) -> AuditEvent:
    return AuditEvent(
        seq=0, time=T0, actor="service", tenant=tenant, operation=operation, outcome="ok",
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_append_assigns_sequence_and_links_hashes(store: Store) -> None:
    log = AuditLog(store)
    assert log.head() == (0, GENESIS_HASH)
    first = log.append(_event("kms:GenerateDataKey", tk_id="tk-1", kms_request_id="req-1"))
    second = log.append(
        _event("document:put", document="a/b.txt", bytes=42, detail={"ctx": {"byok:tk": "tk-1"}})
    )
    assert (first.event.seq, second.event.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert log.head() == (2, second.hash)
    stored = list(log.events())
    assert stored == [first, second]
    assert verify_chain((c.event, c.hash) for c in stored).ok


def test_events_can_be_read_per_tenant_in_batches(store: Store) -> None:
    log = AuditLog(store)
    for index in range(7):
        log.append(_event(f"op{index}", tenant="acme" if index % 2 else "globex"))
    log.append(_event("vendor:start", tenant=None))
    assert [c.event.seq for c in log.events(batch=2)] == list(range(1, 9))
    assert [c.event.seq for c in log.events(tenant="acme", batch=2)] == [2, 4, 6]
    assert [c.event.seq for c in log.events(after_seq=6)] == [7, 8]


def test_concurrent_appends_form_a_single_valid_chain(store: Store) -> None:
    log = AuditLog(store)

    def append_many(worker: int) -> None:
        for index in range(20):
            log.append(_event(f"w{worker}:{index}"))

    threads = [threading.Thread(target=append_many, args=(w,)) for w in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = list(log.events())
    assert [c.event.seq for c in stored] == list(range(1, 101))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))
    result = verify_chain((c.event, c.hash) for c in stored)
    assert result.ok and result.events == 100
    assert log.head() == (100, stored[-1].hash)
    for worker in range(5):  # each writer's own events keep their order
        mine = [c.event.operation for c in stored if c.event.operation.startswith(f"w{worker}:")]
        assert mine == [f"w{worker}:{i}" for i in range(20)]


def test_a_custom_sealer_is_used(store: Store) -> None:
    log = AuditLog(store)
    chained = log.append(_event("x"), seal=lambda previous, event: f"{event.seq:064d}")
    assert chained.hash == "0" * 63 + "1"
    assert log.head() == (1, chained.hash)
