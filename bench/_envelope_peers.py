"""Envelope rows against the fastest peer library (issue 18): Asherah, in the same process.

Asherah (``pip install asherah``, a Rust core; the ``bench`` extra installs it) runs with its
in-memory metastore and a static master key, which is its warm path: the same job as byok's
warm tenant-key cache (a per-partition key in memory, a fresh data key and AEAD per
document). Both are timed in alternating rounds on the same 4 KiB plaintext, then with 8
threads at once (ops/s over a few seconds, GIL included). If ``asherah`` is not installed
the rows say so and its figures are ``null``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from _harness import KIB, Row, interleaved, memory_envelope, roundtrip, verdict
from _results import Figure

_THREADS = 8


def _asherah_roundtrip(data: bytes) -> tuple[Callable[[], object] | None, str]:
    try:
        import asherah
    except ImportError as error:
        return None, f"asherah is not installed ({error}); `pip install asherah`"
    config = {"ServiceName": "bench", "ProductID": "byok", "Metastore": "memory",
              "KMS": "static", "StaticMasterKeyHex": os.urandom(32).hex(),
              "EnableSessionCaching": True}  # fmt: skip
    session = asherah.SessionFactory(config).get_session("bench-tenant")

    def run() -> object:
        return session.decrypt_bytes(session.encrypt_bytes(data))

    if run() != data:
        return None, "asherah did not round-trip"
    return run, f"asherah {getattr(asherah, 'version', lambda: '?')()}"


def ops_per_second(fn: Callable[[], object], threads: int, seconds: float) -> float:
    """Operations per second of ``threads`` threads calling ``fn`` for ``seconds``."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def run(index: int) -> None:
        start.wait()
        stop, n = time.monotonic() + seconds, 0
        while time.monotonic() < stop:
            fn()
            n += 1
        counts[index] = n

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    started = time.monotonic()
    start.wait()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started)


def bench_peers(repeat: int, seconds: float, rows: list[Row], figures: dict[str, Figure]) -> None:
    """4 KiB encrypt+decrypt: byok vs Asherah, one thread and eight."""
    data = os.urandom(4 * KIB)
    env, wrapper = memory_envelope()
    ours = roundtrip(env, wrapper, data)
    theirs, label = _asherah_roundtrip(data)
    batch = 1000
    runs: dict[str, Callable[[], object]] = {"byok": lambda: [ours() for _ in range(batch)]}
    if theirs is not None:
        runs["asherah"] = lambda: [theirs() for _ in range(batch)]
    times = {k: v / batch * 1e6 for k, v in interleaved(runs, repeat).items()}
    ours_threads = ops_per_second(ours, _THREADS, seconds)
    ours_one = ops_per_second(ours, 1, seconds)
    figures["envelope_4kib_byok_vs_peer_us_per_op"] = times["byok"]
    figures["envelope_8_threads_ops_per_s"] = ours_threads
    figures["envelope_1_thread_ops_per_s"] = ours_one
    if theirs is None:
        figures["envelope_4kib_asherah_us_per_op"] = None
        figures["envelope_8_threads_asherah_ops_per_s"] = None
        rows.append(Row("4 KiB encrypt+decrypt vs Asherah", f"{times['byok']:.1f} us/op",
                        f"skipped: {label}"))  # fmt: skip
    else:
        theirs_threads = ops_per_second(theirs, _THREADS, seconds)
        figures["envelope_4kib_asherah_us_per_op"] = times["asherah"]
        figures["envelope_8_threads_asherah_ops_per_s"] = theirs_threads
        ratio = times["asherah"] / times["byok"]
        rows.append(Row("4 KiB encrypt+decrypt vs Asherah", f"{times['byok']:.1f} us/op",
                        f"{label}: {times['asherah']:.1f} us", f"{ratio:.2f}x",
                        "<= Asherah", verdict(times["byok"] <= times["asherah"])))  # fmt: skip
        rows.append(Row(f"4 KiB, {_THREADS} threads", f"{ours_threads:.0f} ops/s",
                        f"asherah {theirs_threads:.0f} ops/s",
                        f"{ours_threads / theirs_threads:.2f}x"))  # fmt: skip
    rows.append(Row(f"4 KiB, {_THREADS} threads vs 1 thread (GIL)", f"{ours_threads:.0f} ops/s",
                    f"1 thread {ours_one:.0f} ops/s",
                    f"{ours_threads / ours_one:.2f}x"))  # fmt: skip
