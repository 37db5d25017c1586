"""The cluster signal: one table and one listener per process tell every node what changed.

Many ``byok serve`` processes share one metadata database. When one of them (or a CLI
command) revokes a token, purges a tenant's keys or changes a tenant's state, every other
process must drop what it caches about it at once, not when its own TTL runs out. No
home-made consensus: the database is the channel.

API (one :class:`SignalBus` per :class:`~byok.store.database.Store`, ``store.signals``)::

    # in the transaction that makes the change (the change and its signal commit together):
    with store.write() as session:
        ...                                         # revoke the token row
        store.signals.publish(session, SignalKind.TOKEN_REVOKED, tenant="acme", subject=tid)

    # in every process that caches something (API server, key cache, token cache):
    subscription = store.signals.subscribe(on_signal, kinds={SignalKind.TOKEN_REVOKED})
    store.signals.start()                           # listener thread (idempotent)
    ...
    subscription.cancel(); store.signals.stop()     # or store.close()

``on_signal(signal)`` receives a :class:`Signal` (id, kind, tenant, subject, origin node,
time) on the listener thread, in id order; it must be quick (drop a cache entry) and must
not raise (an exception is logged and the next subscriber still runs). The publishing
process's own subscribers are called too, so a single node behaves the same as a cluster.

How delivery works and why nothing is lost (NOTIFY only wakes, the rows are read back; gaps
in the ids are re-read; retention): docs/ARCHITECTURE.md#the-cluster-signal. The table row,
the kinds and :class:`Signal` are in :mod:`byok.store.signal_records`.

The revocation bound never depends on this module: caches still expire by their TTL, so a
node whose listener is stopped refuses within the bound anyway (only later).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, event, func, select, text
from sqlalchemy.orm import Session

from byok.errors import InvalidInput
from byok.store.signal_records import Signal, SignalKind, SignalRow, signal_of

if TYPE_CHECKING:
    from byok.store.database import Store

__all__ = [
    "CHANNEL",
    "GAP_WAIT_S",
    "RETENTION",
    "Signal",
    "SignalBus",
    "SignalKind",
    "SignalRow",
    "Subscription",
    "publish",
]

log = logging.getLogger(__name__)

CHANNEL = "byok_signals"
GAP_WAIT_S = 30.0
RETENTION = timedelta(days=1)
DEFAULT_CATCH_UP_S = 1.0
DEFAULT_SQLITE_POLL_S = 0.1
_BATCH = 500
_MAX_GAPS = 10_000
_PRUNE_EVERY_S = 600.0
_RECONNECT_S = 0.5


Callback = Callable[[Signal], None]


def publish(
    session: Session,
    kind: SignalKind | str,
    *,
    tenant: str | None = None,
    subject: str | None = None,
    origin: str = "",
    created_at: datetime,
) -> None:
    """Add a signal to ``session``'s transaction (delivered only if it commits).

    Raises:
        InvalidInput: an empty kind or an over-long field.
    """
    kind = str(kind)
    if not kind or len(kind) > 32:
        raise InvalidInput("kind", "must be 1 to 32 characters (a SignalKind)")
    if subject is not None and len(subject) > 256:
        raise InvalidInput("subject", "must be at most 256 characters")
    session.add(
        SignalRow(
            kind=kind, tenant=tenant, subject=subject, origin=origin[:64], created_at=created_at
        )
    )
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # Delivered by PostgreSQL at commit, never for a rolled-back transaction.
        session.execute(
            text("SELECT pg_notify(:channel, :kind)"), {"channel": CHANNEL, "kind": kind}
        )


class Subscription:
    """A registered callback; :meth:`cancel` stops its deliveries."""

    def __init__(self, bus: SignalBus, callback: Callback, kinds: frozenset[str] | None) -> None:
        self._bus = bus
        self.callback = callback
        self.kinds = kinds

    def wants(self, signal: Signal) -> bool:
        """Whether this subscription receives ``signal``."""
        return self.kinds is None or signal.kind in self.kinds

    def cancel(self) -> None:
        """Stop delivering to this callback (idempotent)."""
        self._bus.unsubscribe(self)


class SignalBus:
    """The process's listener on the ``signals`` table (thread-safe).

    Args:
        store: the shared metadata store.
        node: this process's name in :attr:`Signal.origin` (default host:pid:random).
        catch_up_s: PostgreSQL: read the table at least this often even without NOTIFY.
        poll_s: SQLite: how often the table is polled.
    """

    def __init__(
        self,
        store: Store,
        *,
        node: str | None = None,
        catch_up_s: float = DEFAULT_CATCH_UP_S,
        poll_s: float = DEFAULT_SQLITE_POLL_S,
    ) -> None:
        if catch_up_s <= 0 or poll_s <= 0:
            raise InvalidInput("catch_up_s", "poll and catch-up intervals must be positive")
        self._store = store
        self.node = (node or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")[:64]
        self._catch_up_s = catch_up_s
        self._poll_s = poll_s
        self._lock = threading.Lock()  # subscriptions, thread state
        self._read_lock = threading.Lock()  # one catch-up at a time, deliveries in id order
        self._subscriptions: list[Subscription] = []
        self._high: int | None = None
        self._gaps: dict[int, float] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = time.monotonic()
        #: Signals delivered to this process (for metrics and tests).
        self.delivered = 0

    @property
    def running(self) -> bool:
        """Whether the listener thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def last_id(self) -> int | None:
        """The highest signal id seen (None before :meth:`start` or :meth:`catch_up`)."""
        return self._high

    def subscribe(
        self, callback: Callback, *, kinds: Collection[str] | None = None
    ) -> Subscription:
        """Call ``callback(signal)`` for every later signal (of ``kinds``; default all)."""
        subscription = Subscription(self, callback, None if kinds is None else frozenset(kinds))
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove ``subscription`` (no error if it is already gone)."""
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def publish(
        self,
        session: Session,
        kind: SignalKind | str,
        *,
        tenant: str | None = None,
        subject: str | None = None,
    ) -> None:
        """:func:`publish` from this node; this process's listener wakes when it commits.

        Raises:
            InvalidInput: as :func:`publish`.
        """
        publish(
            session,
            kind,
            tenant=tenant,
            subject=subject,
            origin=self.node,
            created_at=self._store.clock(),
        )
        event.listen(session, "after_commit", self._on_commit, once=True)

    def start(self) -> None:
        """Start the listener thread from the current highest id (idempotent).

        Raises:
            StorageError: the table cannot be read.
        """
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            self._reset_position()
            self._thread = threading.Thread(target=self._run, name="byok-signals", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the listener thread and wait for it (idempotent)."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stopping.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    def catch_up(self) -> int:
        """Read and deliver every signal not yet seen; return how many were delivered.

        Raises:
            StorageError: the table cannot be read.
        """
        with self._read_lock:
            if self._high is None:
                self._reset_position()
                return 0
            delivered = 0
            for signal in self._unseen():
                self._deliver(signal)
                delivered += 1
            self.delivered += delivered
            return delivered

    def prune(self, older_than: timedelta = RETENTION) -> int:
        """Delete signals older than ``older_than``; return how many rows went."""
        cutoff = self._store.clock() - older_than
        with self._store.write() as session:
            result = session.execute(delete(SignalRow).where(SignalRow.created_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    # -- reading ------------------------------------------------------------------------

    def _reset_position(self) -> None:
        with self._store.read() as session:
            self._high = int(session.scalar(select(func.max(SignalRow.id))) or 0)
        self._gaps.clear()

    def _unseen(self) -> Iterator[Signal]:
        assert self._high is not None
        now = time.monotonic()
        self._gaps = {i: t for i, t in self._gaps.items() if now - t < GAP_WAIT_S}
        floor = min(self._gaps, default=self._high + 1) - 1
        while True:
            rows = self._rows_after(floor)
            for row in rows:
                if row.id in self._gaps:
                    del self._gaps[row.id]
                elif row.id <= self._high:
                    continue  # seen already
                else:
                    self._note_gaps(self._high, row.id, now)
                    self._high = row.id
                yield signal_of(row)
            if len(rows) < _BATCH:
                return
            floor = rows[-1].id

    def _rows_after(self, floor: int) -> list[SignalRow]:
        statement = select(SignalRow).where(SignalRow.id > floor).order_by(SignalRow.id)
        with self._store.read() as session:
            return list(session.scalars(statement.limit(_BATCH)))

    def _note_gaps(self, high: int, new: int, now: float) -> None:
        for missing in range(high + 1, min(new, high + 1 + _MAX_GAPS)):
            self._gaps[missing] = now
        while len(self._gaps) > _MAX_GAPS:
            del self._gaps[min(self._gaps)]

    def _deliver(self, signal: Signal) -> None:
        with self._lock:
            targets = [s for s in self._subscriptions if s.wants(signal)]
        for subscription in targets:
            try:
                subscription.callback(signal)
            except Exception:  # a subscriber's bug must not stop the others or the listener
                log.exception("signal subscriber failed on %s #%d", signal.kind, signal.id)

    # -- the listener thread ------------------------------------------------------------

    def _on_commit(self, _session: Session) -> None:
        self._wake.set()

    def _run(self) -> None:
        postgres = self._store.dialect == "postgresql"
        while not self._stopping.is_set():
            try:
                if postgres:
                    self._listen_postgres()
                else:
                    self._wake.wait(self._poll_s)
                    self._wake.clear()
                    self._tick()
            except Exception:  # the database went away: retry; the TTL still bounds caches
                log.warning("signal listener: database unavailable, retrying", exc_info=True)
                self._stopping.wait(_RECONNECT_S)

    def _tick(self) -> None:
        if self._stopping.is_set():
            return
        self.catch_up()
        if time.monotonic() - self._last_prune > _PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            self.prune()

    def _listen_postgres(self) -> None:
        with _listening_connection(self._store) as connection:
            self._tick()  # anything committed while no LISTEN was active
            deadline = time.monotonic() + self._catch_up_s
            while not self._stopping.is_set():
                woken = any(True for _ in connection.notifies(timeout=0.2, stop_after=1))
                if self._wake.is_set():
                    self._wake.clear()
                    woken = True
                if woken or time.monotonic() >= deadline:
                    self._drain(connection)
                    self._tick()
                    deadline = time.monotonic() + self._catch_up_s

    @staticmethod
    def _drain(connection: Any) -> None:
        # Several NOTIFYs may have queued: one catch-up covers them all.
        for _ in connection.notifies(timeout=0, stop_after=1000):
            pass

    def __repr__(self) -> str:
        return f"SignalBus(node={self.node!r}, running={self.running}, last_id={self._high})"


@contextmanager
def _listening_connection(store: Store) -> Iterator[Any]:
    """A dedicated psycopg connection (same URL and options as the store) with LISTEN on."""
    pooled = store.engine.raw_connection()
    connection = pooled.driver_connection
    pooled.detach()  # ours alone: a LISTENing session must not go back to the pool
    assert connection is not None
    try:
        connection.rollback()
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        yield connection
    finally:
        connection.close()
