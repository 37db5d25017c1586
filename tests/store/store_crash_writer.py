"""Crash-test writer: puts and deletes documents in a loop until it is killed with SIGKILL.

Run by ``test_store_crash.py`` as a *zygote*: it imports byok once, then forks one writer
process per ``spawn`` command read from stdin, so each short-lived writer starts in
milliseconds. The test kills every writer with ``kill -9`` at a random moment and asks the
zygote to ``reap`` it (the reply carries the signal that ended it).

Each writer appends to its slot's log, one ``os.write`` per line (atomic with O_APPEND)::

    S <seed>                       a writer started
    B put <name> <nonce>           about to put version <nonce> of <name>
    E put <name> <nonce> <gen>     the put committed with generation <gen>
    B del <name>                   about to delete <name>
    E del <name> ok|missing        the delete committed (or there was nothing to delete)

Document bodies are a pure function of (name, nonce) (:func:`content_for`) and begin with
a header naming both, so the test can check any visible document byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import traceback
from collections.abc import Iterator

from byok.errors import NotFound
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store
from byok.store.documents import DocumentRepository

NAMES_PER_SLOT = 10
MAX_BODY = 256 * 1024
PIECE = 16 * 1024


def document_name(slot: int, index: int) -> str:
    """The name of document ``index`` in a slot's namespace."""
    return f"s{slot}/doc-{index:02d}"


def content_for(name: str, nonce: str) -> bytes:
    """The exact bytes of version ``nonce`` of ``name`` (header + SHAKE-256 stream)."""
    seed = f"{name}|{nonce}".encode()
    size = int.from_bytes(hashlib.sha256(seed).digest()[:4], "big") % MAX_BODY
    header = f"{name}|{nonce}|{size}\n".encode()
    return header + hashlib.shake_256(seed).digest(size)


def nonce_of(body: bytes) -> str:
    """The nonce named in a body's header (a body the writer did not make raises ValueError)."""
    _name, nonce, _size = body.split(b"\n", 1)[0].decode().split("|")
    return nonce


def _pieces(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), PIECE):
        yield body[start : start + PIECE]


def _log(fd: int, line: str) -> None:
    os.write(fd, (line + "\n").encode())


def warm_up(args: argparse.Namespace) -> DocumentRepository:
    """Open the store and run each operation once, so forked writers start at full speed.

    Every pooled connection is closed again before any fork: a child never shares the
    zygote's database connections, it opens its own.
    """
    docs = DocumentRepository(Store.open(args.db, migrate=False), FilesystemBlobStore(args.blobs))
    docs.put(args.tenant, "warm-up", _pieces(content_for("warm-up", "0")))
    with docs.get(args.tenant, "warm-up") as reader:
        reader.read()
    docs.delete(args.tenant, "warm-up")
    docs.store.close()
    return docs


def run_writer(args: argparse.Namespace, docs: DocumentRepository, slot: int, seed: int) -> None:
    """Write forever (until killed)."""
    log = os.open(
        os.path.join(args.logs, f"slot-{slot}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT
    )
    rng = random.Random(seed)
    _log(log, f"S {seed}")
    while True:
        name = document_name(slot, rng.randrange(NAMES_PER_SLOT))
        if rng.random() < 0.8:
            nonce = f"{rng.getrandbits(64):016x}"
            _log(log, f"B put {name} {nonce}")
            head = docs.put(args.tenant, name, _pieces(content_for(name, nonce)))
            _log(log, f"E put {name} {nonce} {head.generation}")
        else:
            _log(log, f"B del {name}")
            try:
                docs.delete(args.tenant, name)
                _log(log, f"E del {name} ok")
            except NotFound:
                _log(log, f"E del {name} missing")


def _spawn(args: argparse.Namespace, docs: DocumentRepository, slot: int, seed: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns into the zygote's loop
        run_writer(args, docs, slot, seed)
    except BaseException:
        traceback.print_exc()
        os._exit(3)
    os._exit(0)


def main() -> None:
    """The zygote. ``spawn <slot> <seed>`` → ``pid <pid>``; ``reap <pid>`` → ``reaped <pid> <sig>``.

    ``<sig>`` is the signal that ended the writer, or minus its exit status.
    """
    parser = argparse.ArgumentParser()
    for option in ("--db", "--blobs", "--tenant", "--logs"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    docs = warm_up(args)
    print("zygote-ready", flush=True)
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "spawn":
            print(f"pid {_spawn(args, docs, int(rest[0]), int(rest[1]))}", flush=True)
        elif command == "reap":
            pid, status = os.waitpid(int(rest[0]), 0)
            signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
            print(f"reaped {pid} {signal}", flush=True)


if __name__ == "__main__":
    main()
