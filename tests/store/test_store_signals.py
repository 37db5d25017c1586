"""The cluster signal (``byok.store.signals``), on SQLite and PostgreSQL.

Hostile cases: the signal of a rolled-back change (never delivered), a NOTIFY that never came
(recovered from the table), ids committed out of order (the slower transaction's signal is
still delivered), a subscriber that raises (the others still run), a restarted node (starts
from the current highest id), and two real processes (delivery across processes, both ways).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from byok.store import Store, signals
from byok.store.signals import Signal, SignalBus, SignalKind, SignalRow

CHILD = Path(__file__).with_name("signals_child.py")
WAIT_S = 10.0  # generous: the machine is shared; deliveries normally take milliseconds


class Inbox:
    """Collects delivered signals; waits for them."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []
        self._changed = threading.Condition()

    def __call__(self, signal: Signal) -> None:
        with self._changed:
            self.signals.append(signal)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[Signal]], bool], timeout: float = WAIT_S) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.signals), timeout):
                pytest.fail(f"signals not delivered in {timeout} s; got {self.signals}")

    def subjects(self) -> list[str | None]:
        with self._changed:
            return [s.subject for s in self.signals]


@pytest.fixture
def bus(store: Store) -> Iterator[SignalBus]:
    signals = SignalBus(store, catch_up_s=0.3, poll_s=0.05)
    yield signals
    signals.stop()


def publish(
    store: Store, bus: SignalBus, subject: str, kind: str = SignalKind.TOKEN_REVOKED
) -> None:
    with store.write() as session:
        bus.publish(session, kind, tenant="acme", subject=subject)


def test_a_committed_signal_reaches_subscribers_with_its_fields(
    store: Store, bus: SignalBus
) -> None:
    inbox = Inbox()
    bus.subscribe(inbox)
    bus.start()
    publish(store, bus, "tok1")
    inbox.wait_for(lambda got: len(got) == 1)
    (signal,) = inbox.signals
    assert (signal.kind, signal.tenant, signal.subject) == ("token-revoked", "acme", "tok1")
    assert signal.origin == bus.node
    assert bus.last_id == signal.id


def test_a_rolled_back_change_publishes_nothing(store: Store, bus: SignalBus) -> None:
    inbox = Inbox()
    bus.subscribe(inbox)
    bus.start()
    with pytest.raises(RuntimeError), store.write() as session:
        bus.publish(session, SignalKind.TOKEN_REVOKED, tenant="acme", subject="lost")
        raise RuntimeError("the change failed half-way")
    publish(store, bus, "kept")
    inbox.wait_for(lambda got: len(got) >= 1)
    time.sleep(0.5)  # a late wrong delivery would show up here
    assert inbox.subjects() == ["kept"]


def test_a_missed_notify_is_recovered_from_the_table(store: Store, bus: SignalBus) -> None:
    inbox = Inbox()
    bus.subscribe(inbox)
    bus.start()
    with store.write() as session:  # a row with no NOTIFY and no local wake-up
        session.add(
            SignalRow(
                kind="tenant-state",
                tenant="acme",
                subject="x",
                origin="elsewhere",
                created_at=store.clock(),
            )
        )
    inbox.wait_for(lambda got: len(got) == 1)
    assert inbox.signals[0].origin == "elsewhere"


def test_another_nodes_signal_wakes_the_listener_without_waiting_for_catch_up(
    store: Store,
) -> None:
    # catch-up only once a minute: PostgreSQL's NOTIFY (SQLite: the cheap poll) must carry it.
    slow = SignalBus(store, catch_up_s=60.0)
    inbox = Inbox()
    slow.subscribe(inbox)
    slow.start()
    try:
        with store.write() as session:  # published by "another node": no local wake-up
            signals.publish(
                session, "tenant-state", tenant="acme", origin="node-b", created_at=store.clock()
            )
        started = time.monotonic()
        inbox.wait_for(lambda got: len(got) == 1)
        assert time.monotonic() - started < 5.0
    finally:
        slow.stop()


@pytest.mark.postgres
def test_ids_committed_out_of_order_are_all_delivered(store: Store, bus: SignalBus) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): ids commit in order there")
    inbox = Inbox()
    bus.subscribe(inbox)
    bus.start()
    with store.write() as slow:
        bus.publish(slow, SignalKind.TOKEN_REVOKED, tenant="acme", subject="slow")  # lower id
        publish(store, bus, "fast")  # higher id, committed first
        inbox.wait_for(lambda got: len(got) == 1)
    inbox.wait_for(lambda got: len(got) == 2)
    assert inbox.subjects() == ["fast", "slow"]
    assert inbox.signals[1].id < inbox.signals[0].id


def test_a_failing_subscriber_does_not_stop_the_others(store: Store, bus: SignalBus) -> None:
    inbox = Inbox()

    def broken(_signal: Signal) -> None:
        raise ValueError("subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(inbox)
    bus.start()
    publish(store, bus, "one")
    publish(store, bus, "two")
    inbox.wait_for(lambda got: len(got) == 2)
    assert bus.running


def test_kinds_filter_and_cancel(store: Store, bus: SignalBus) -> None:
    tokens, everything = Inbox(), Inbox()
    bus.subscribe(tokens, kinds={SignalKind.TOKEN_REVOKED})
    cancelled = bus.subscribe(everything)
    bus.start()
    publish(store, bus, "p", kind=SignalKind.TENANT_KEYS_PURGED)
    publish(store, bus, "t")
    tokens.wait_for(lambda got: len(got) == 1)
    everything.wait_for(lambda got: len(got) == 2)
    cancelled.cancel()
    publish(store, bus, "t2")
    tokens.wait_for(lambda got: len(got) == 2)
    assert tokens.subjects() == ["t", "t2"]
    assert everything.subjects() == ["p", "t"]


def test_a_restarted_bus_starts_from_the_current_highest_id(store: Store, bus: SignalBus) -> None:
    publish(store, bus, "before-1")
    publish(store, bus, "before-2")
    inbox = Inbox()
    bus.subscribe(inbox)
    bus.start()
    publish(store, bus, "after")
    inbox.wait_for(lambda got: len(got) == 1)
    bus.stop()
    assert not bus.running
    publish(store, bus, "while-stopped")
    bus.start()
    publish(store, bus, "after-restart")
    inbox.wait_for(lambda got: len(got) == 2)
    assert inbox.subjects() == ["after", "after-restart"]


def test_stop_is_prompt_and_start_is_idempotent(store: Store, bus: SignalBus) -> None:
    bus.start()
    bus.start()
    started = time.monotonic()
    bus.stop()
    assert time.monotonic() - started < 2.0
    assert not bus.running
    bus.stop()  # idempotent


def test_prune_removes_only_old_rows(store: Store, bus: SignalBus) -> None:
    publish(store, bus, "recent")
    assert bus.prune(timedelta(hours=1)) == 0
    assert bus.prune(timedelta(seconds=-1)) == 1


def test_the_store_owns_one_bus_and_close_stops_it(database_url: str) -> None:
    store = Store.open(database_url)
    assert store.signals is store.signals
    store.signals.start()
    store.close()
    assert not store.signals.running


class Child:
    """A second process on the same database (``signals_child.py``)."""

    def __init__(self, url: str) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        ready = self._line().split()
        assert ready[:1] == ["ready"], ready
        self.node = ready[1]

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the listening process ended early"
        return line

    def read(self) -> dict[str, str]:
        record: dict[str, str] = {k: str(v) for k, v in json.loads(self._line()).items()}
        return record

    def publish(self, kind: str, subject: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{kind} {subject}\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            if self.process.stdout is not None:
                self.process.stdout.close()


@pytest.mark.timeout(60)
def test_two_processes_hear_each_other(store: Store, bus: SignalBus) -> None:
    inbox = Inbox()
    bus.subscribe(inbox)
    bus.start()
    child = Child(store.engine.url.render_as_string(hide_password=False))
    try:
        published = time.time()
        publish(store, bus, "from-parent")
        record = child.read()
        assert (record["kind"], record["subject"], record["origin"]) == (
            "token-revoked",
            "from-parent",
            bus.node,
        )
        assert float(record["received"]) - published < WAIT_S
        child.publish("tenant-keys-purged", "from-child")
        inbox.wait_for(lambda got: any(s.origin == child.node for s in got))
        assert [s.subject for s in inbox.signals] == ["from-parent", "from-child"]
        assert child.read()["subject"] == "from-child"  # the publisher hears itself too
    finally:
        child.close()
