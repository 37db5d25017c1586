"""Crash test: ``kill -9`` writers at random moments; no partial document is ever visible.

A zygote process (``store_crash_writer.py``) forks short-lived writers; each writes and
deletes documents in its own namespace until this test kills it with SIGKILL 0-50 ms after
it started (a quarter of the runs live up to 300 ms, so committed documents pile up). At
least 200 kills later, the test replays the writers' logs to know, for each
name, which states are possible (a definite one after a logged commit; the old or the new
one when the kill hit mid-operation), then checks that

* every visible document is one the writers could have committed, byte for byte, and
  nothing else is visible;
* ``fsck`` finds nothing but crash leftovers (orphan blobs, unfinished removals, temporary
  files), repairs them, and leaves every visible document intact and the store clean.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from store_crash_writer import NAMES_PER_SLOT, content_for, document_name, nonce_of

from byok.errors import NotFound
from byok.store import DocumentRepository, FilesystemBlobStore, Store, TenantRepository, fsck

WRITER = Path(__file__).with_name("store_crash_writer.py")
SLOTS = 4
KILLS = 240
MAX_DELAY_S = 0.050
TIME_LIMIT_S = 45.0
TENANT = "crash"
Possible = set[str | None]  # None: absent; else the nonce of the visible version


@dataclass
class NameHistory:
    possible: Possible = field(default_factory=lambda: {None})
    pending: tuple[str | None] | None = None  # the outcome of an operation not yet logged done


class Zygote:
    """Talks to the zygote process; one request at a time."""

    def __init__(self, url: str, blobs: Path, logs: Path) -> None:
        self._lock = threading.Lock()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), "--db", url, "--blobs", str(blobs),
             "--tenant", TENANT, "--logs", str(logs)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert self._readline() == "zygote-ready"

    def _readline(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def ask(self, command: str) -> list[str]:
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            return self._readline().split()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def _kill_loop(zygote: Zygote, slot: int, runs: int, deadline: float, rng: random.Random) -> int:
    kills = 0
    for _ in range(runs):
        if time.monotonic() > deadline:
            break
        pid = int(zygote.ask(f"spawn {slot} {rng.getrandbits(32)}")[1])
        # Mostly within 0-50 ms of the start (mid-operation); every fourth run lives a
        # little longer so committed documents accumulate for the read-back check.
        long_run = rng.random() < 0.25
        time.sleep(
            rng.uniform(MAX_DELAY_S, 6 * MAX_DELAY_S) if long_run else rng.uniform(0, MAX_DELAY_S)
        )
        os.kill(pid, signal.SIGKILL)
        reply = zygote.ask(f"reap {pid}")
        assert reply == ["reaped", str(pid), str(int(signal.SIGKILL))], (
            f"writer {pid} did not die by SIGKILL (it failed on its own): {reply}"
        )
        kills += 1
    return kills


def _replay(log: Path) -> tuple[dict[str, NameHistory], int]:
    """Possible states per name from one slot's log; also how many kills hit mid-operation."""
    histories: dict[str, NameHistory] = {}
    mid_operation = 0

    def settle() -> None:
        nonlocal mid_operation
        for history in histories.values():
            if history.pending is not None:
                history.possible.add(history.pending[0])
                history.pending = None
                mid_operation += 1

    for line in log.read_text().splitlines():
        kind, *rest = line.split()
        if kind == "S":
            settle()
            continue
        operation, name = rest[0], rest[1]
        history = histories.setdefault(name, NameHistory())
        outcome = rest[2] if operation == "put" else None
        if kind == "B":
            history.pending = (outcome,)
        else:
            history.possible = {outcome}
            history.pending = None
    settle()
    return histories, mid_operation


def _visible(docs: DocumentRepository, name: str) -> tuple[str | None, bytes]:
    try:
        with docs.get(TENANT, name) as reader:
            body = reader.read()
            assert reader.head.size == len(body)
    except NotFound:
        return None, b""
    return nonce_of(body), body


def _check_documents(docs: DocumentRepository, histories: dict[str, NameHistory]) -> int:
    present = 0
    for name, history in sorted(histories.items()):
        nonce, body = _visible(docs, name)
        assert nonce in history.possible, f"{name}: visible {nonce}, possible {history.possible}"
        if nonce is not None:
            assert body == content_for(name, nonce), f"{name}: torn or mixed-up bytes"
            present += 1
    listed = {h.name for h in _all_listed(docs)}
    known = {document_name(s, i) for s in range(SLOTS) for i in range(NAMES_PER_SLOT)}
    assert listed <= known, f"unexpected documents are visible: {listed - known}"
    assert len(listed) == present
    return present


def _all_listed(docs: DocumentRepository) -> list:  # type: ignore[type-arg]
    page = docs.list(TENANT, limit=1000)
    assert page.next_cursor is None
    return list(page.items)


def _kill_writers(database_url: str, blob_dir: Path, logs: Path) -> int:
    """Run SLOTS writer slots in parallel, each killing KILLS / SLOTS writers; the kill count."""
    zygote = Zygote(database_url, blob_dir, logs)
    deadline = time.monotonic() + TIME_LIMIT_S
    counts: list[int] = []

    def slot_loop(slot: int) -> None:
        counts.append(_kill_loop(zygote, slot, KILLS // SLOTS, deadline, random.Random(slot)))

    try:
        threads = [threading.Thread(target=slot_loop, args=(slot,)) for slot in range(SLOTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        zygote.close()
    return sum(counts)


def _replay_all(logs: Path) -> tuple[dict[str, NameHistory], int]:
    histories: dict[str, NameHistory] = {}
    mid_operation = 0
    for slot in range(SLOTS):
        slot_histories, hits = _replay(logs / f"slot-{slot}.log")
        histories.update(slot_histories)
        mid_operation += hits
    return histories, mid_operation


@pytest.mark.slow
def test_kill_minus_nine_never_leaves_a_partial_document(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(database_url)
    TenantRepository(store).create(TENANT, name="Crash", external_id=f"byok-{secrets.token_hex(8)}")
    blob_dir, logs = tmp_path / "blobs", tmp_path / "logs"
    logs.mkdir()
    docs = DocumentRepository(store, FilesystemBlobStore(blob_dir))

    kills = _kill_writers(database_url, blob_dir, logs)
    assert kills >= 200, f"only {kills} kills in {TIME_LIMIT_S} s"
    histories, mid_operation = _replay_all(logs)
    present = _check_documents(docs, histories)

    found = fsck(store, docs.blobs, grace=timedelta(0), repair=True, deep=True)
    assert found.missing_blobs == () and found.damaged_blobs == ()
    assert _check_documents(docs, histories) == present  # repair removed nothing visible
    after = fsck(store, docs.blobs, grace=timedelta(0), deep=True)
    assert after.clean and after.recent_orphans == ()
    assert after.blobs == after.rows == present
    assert not list(blob_dir.rglob(".tmp-*"))
    with capsys.disabled():
        print(
            f"\n[crash test {store.dialect}] {kills} kills ({mid_operation} mid-operation); "
            f"{present} documents visible and byte-exact; fsck repaired "
            f"{found.removed_orphans} orphan blobs, {found.finished_removals} unfinished "
            f"removals, {found.removed_incomplete} temporary files"
        )
    store.close()
