"""Group commit: one durable commit for the metadata and audit writes of concurrent callers.

A document read appends an audit event; a document write inserts its row and its audit
event. Done one transaction per request, every request pays a whole commit (an ``fsync``
on SQLite with ``synchronous=FULL``) and, worse, waits for the database's single write lock
(SQLite's busy handler sleeps 1-100 ms between tries), so throughput stops at a few
hundred requests per second whatever the CPU and the tail reaches seconds (issue 18).

:class:`GroupCommit` queues each caller's *work* (a function of a :class:`WriteBatch`: the
session and the batch's audit-chain appender) and lets one caller at a time, the leader, run
everything queued in **one** write transaction: each work item that writes rows in its own
SAVEPOINT (a failing item is rolled back alone, its audit events are dropped and its caller
gets its error; the others go on), the batch's audit events in one multi-row insert, then
one commit. Every caller returns only after the commit that
holds its rows has returned, so what a caller acknowledges is durable (the crash tests
``tests/store/test_store_crash.py`` kill -9 the process mid-load). While the leader commits,
new work queues up and becomes the next batch: the busier the server, the bigger the batch.

Only the leader waits for the database's write lock, so one process never queues on it.
Work items must be short and touch only the session (no network, no blob I/O): every other
caller of the batch waits for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from byok.store.audit import ChainAppender

__all__ = ["GroupCommit", "WriteBatch"]

T = TypeVar("T")
#: Opens a write transaction (``Store.write``): commits at the end, translates errors.
Begin = Callable[[], AbstractContextManager[Session]]
#: Translates database errors raised inside one work item (``translate_errors``).
Translate = Callable[[str], AbstractContextManager[None]]


class WriteBatch:
    """What a work item writes through: the shared transaction's session and its audit
    chain (``batch.audit.append(event)``; the events are inserted before the commit)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.audit = ChainAppender(session)


@dataclass
class _Item(Generic[T]):
    work: Callable[[WriteBatch], T]
    savepoint: bool
    result: T | None = None
    error: BaseException | None = None
    finished: bool = False

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    """Runs work items of concurrent threads in shared, durable write transactions.

    Args:
        begin: opens one write transaction (committed when its block ends).
        translate: turns the database errors of one item into byok errors.
        max_batch: the most items in one transaction.
    """

    def __init__(self, begin: Begin, translate: Translate, *, max_batch: int = 256) -> None:
        self._begin = begin
        self._translate = translate
        self._max = max_batch
        self._pending: list[_Item[object]] = []
        self._leading = False
        self._changed = threading.Condition(threading.Lock())
        self.batches = 0  # committed transactions (for tests and benchmarks)
        self.items = 0  # work items that ran in them

    @property
    def queued(self) -> int:
        """How many work items wait for the next batch."""
        with self._changed:
            return len(self._pending)

    def run(self, work: Callable[[WriteBatch], T], *, savepoint: bool = True) -> T:
        """Run ``work(batch)`` in a shared write transaction; return after it committed.

        Args:
            work: the writes (short; database only).
            savepoint: run it in a SAVEPOINT, so that its failure rolls back only its own
                rows (False only for work that cannot fail half-way, e.g. an audit append).

        Returns:
            What ``work`` returned.

        Raises:
            Exception: what ``work`` raised (its writes were rolled back, nobody else's),
                translated (Conflict, StorageError) when it came from the database.
            StorageError: the shared commit failed (nothing of the batch was written).
        """
        item: _Item[T] = _Item(work, savepoint)
        with self._changed:
            self._pending.append(item)  # type: ignore[arg-type]
            while self._leading and not item.finished:
                self._changed.wait()
            if item.finished:
                return item.outcome()
            self._leading = True
        try:
            while not item.finished:
                self._commit_next()
        finally:
            with self._changed:
                self._leading = False
                self._changed.notify_all()  # the finished return; one other leads next
        return item.outcome()

    def _commit_next(self) -> None:
        with self._changed:
            batch = self._pending[: self._max]
            del self._pending[: len(batch)]
        try:
            with self._begin() as session:
                writes = WriteBatch(session)
                for queued in batch:
                    self._run_one(writes, queued)
                writes.audit.flush()
        except BaseException as exc:  # the commit failed: no item of the batch was written
            for queued in batch:
                queued.error, queued.result = exc, None
        finally:
            self.batches += 1
            self.items += len(batch)
            with self._changed:
                for queued in batch:
                    queued.finished = True
                self._changed.notify_all()

    def _run_one(self, batch: WriteBatch, item: _Item[object]) -> None:
        if not item.savepoint:
            item.result = item.work(batch)  # a failure here fails the whole batch
            return
        mark = batch.audit.mark()
        try:
            with self._translate("write metadata"), batch.session.begin_nested():
                item.result = item.work(batch)
        except Exception as exc:  # this item's own failure: only its savepoint rolled back
            batch.audit.undo(mark)
            item.error = exc
