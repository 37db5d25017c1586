#!/usr/bin/env python3
"""Scopes, periods and reasons benchmark (issue 16): KMS calls stay O(tenant keys).

Writes ``--documents`` documents of 4 KiB for one tenant spread over ``--scopes`` scopes and
``--days`` days (period unit: day, so one tenant key per scope and day), then reads every one
back in a fresh process once per access reason. Counted: the root key's calls by operation
(an in-memory root key standing in for KMS, ``byok.core.memory_wrapper``: the counts are the
design's, not the network's). Timed in the same run, per document (best of ``--repeat``):

* ``scoped``: the envelope with scopes, day periods and a reason per use (this design);
* ``single``: the same envelope with one scope and the default month (no per-use context);
* ``ceiling``: raw AES-256-GCM of the same 4 KiB with a fresh key derivation per document
  (HKDF-SHA-256 then one AES-GCM seal), what any envelope must at least cost.

Figures merge into ``bench/results.json``: ``scopes_kms_calls``, ``scopes_tenant_keys``,
``scopes_kms_calls_per_1k_documents``, ``scopes_write_us``, ``scopes_single_write_us``,
``scopes_ceiling_us``, ``scopes_overhead_ratio``. Usage:
``python bench/scopes.py [--documents N] [--scopes N] [--days N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import calendar
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import merge
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from byok.core.bound_context import BoundContext
from byok.core.envelope import Envelope
from byok.core.key_use import CUSTOMER_REQUEST, KeyUse
from byok.core.memory_wrapper import MemoryKeyWrapper
from byok.core.tenant_keys import MemoryTenantKeyStore

DAY = 86400.0
START = float(calendar.timegm((2026, 12, 1, 0, 0, 0, 0, 0, 0)))
REASONS = (
    KeyUse(CUSTOMER_REQUEST), KeyUse("vendor-service"), KeyUse("vendor-support", ticket="T-1")
)  # fmt: skip
PAYLOAD = os.urandom(4096)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _count(documents: int, scopes: int, days: int) -> dict[str, int]:
    """Write and read everything; return the root key's calls by operation."""
    store, wrapper, clock = MemoryTenantKeyStore(), MemoryKeyWrapper(), Clock()
    writer = Envelope(store, clock=clock)
    written = []
    per_day = max(1, documents // days)
    for i in range(documents):
        clock.now = START + min(i // per_day, days - 1) * DAY
        use = KeyUse(CUSTOMER_REQUEST).in_scope(f"scope-{i % scopes}", "day")
        name = f"scope-{i % scopes}/doc-{i}"
        written.append((name, writer.encrypt("bench", wrapper, _bound(name), PAYLOAD, use)))
    reader = Envelope(store, clock=clock)
    for use in REASONS:
        for name, ciphertext in written:
            assert reader.decrypt("bench", wrapper, _bound(name), ciphertext, use) == PAYLOAD
    return dict(wrapper.calls) | {"tenant_keys": len(store.all("bench"))}


def _bound(name: str) -> BoundContext:
    return BoundContext("bench", name, "w_" + "0" * 32)


def _timings(repeat: int, batch: int) -> dict[str, float]:
    """Microseconds per 4 KiB write, best of ``repeat`` rounds; the three are timed in turn
    within each round so a busy machine slows them alike."""
    wrapper = MemoryKeyWrapper()
    scoped = Envelope(MemoryTenantKeyStore())
    single = Envelope(MemoryTenantKeyStore())
    uses = [KeyUse(CUSTOMER_REQUEST).in_scope(f"scope-{s}", "day") for s in range(4)]
    root = os.urandom(32)

    def ceiling(i: int) -> object:
        key = HKDF(SHA256(), 64, os.urandom(32), b"bench" + i.to_bytes(8, "big")).derive(root)
        return AESGCM(key[:32]).encrypt(b"\x00" * 12, PAYLOAD, b"\x00")

    runs: dict[str, Callable[[int], object]] = {
        "scoped": lambda i: scoped.encrypt("bench", wrapper, _bound(f"d{i}"), PAYLOAD,
                                           uses[i % 4]),
        "single": lambda i: single.encrypt("bench", wrapper, _bound(f"d{i}"), PAYLOAD),
        "ceiling": ceiling,
    }  # fmt: skip
    best = dict.fromkeys(runs, float("inf"))
    for run in runs.values():
        run(0)  # warm: the tenant keys exist and are cached
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            for i in range(batch):
                run(i)
            best[name] = min(best[name], (time.perf_counter() - start) / batch * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--scopes", type=int, default=4)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=2_000)
    args = parser.parse_args()

    calls = _count(args.documents, args.scopes, args.days)
    tks = calls.pop("tenant_keys")
    total = sum(calls.values())
    times = _timings(args.repeat, args.batch)
    reads = args.documents * len(REASONS)
    print(f"{args.documents:,} documents over {args.scopes} scopes x {args.days} days, "
          f"each read back once per reason ({reads:,} reads) in a fresh process:")  # fmt: skip
    print(f"  tenant keys made          {tks:>8,}   (expected {args.scopes * args.days:,})")
    for operation in ("GenerateDataKey", "Encrypt", "Decrypt"):
        print(f"  {operation:<25} {calls.get(operation, 0):>8,}")
    per_1k = total / (args.documents + reads) * 1000
    print(
        f"  KMS calls in all          {total:>8,}   ({per_1k:.2f} per 1,000 document "
        f"operations; a per-document data key would make {args.documents + reads:,})"
    )
    print("Per 4 KiB document write, best of the batches (same run):")
    print(f"  scoped (scope, day, reason) {times['scoped']:8.1f} us")
    print(f"  single scope, month         {times['single']:8.1f} us")
    print(f"  ceiling: HKDF + AES-GCM     {times['ceiling']:8.1f} us")
    ratio = times["scoped"] / times["single"]
    print(f"  scoped / single: {ratio:.2f}x   scoped / ceiling: "
          f"{times['scoped'] / times['ceiling']:.2f}x")  # fmt: skip
    merge({
        "scopes_kms_calls": total, "scopes_tenant_keys": tks,
        "scopes_kms_calls_per_1k_documents": per_1k, "scopes_write_us": times["scoped"],
        "scopes_single_write_us": times["single"], "scopes_ceiling_us": times["ceiling"],
        "scopes_overhead_ratio": ratio,
    })  # fmt: skip


if __name__ == "__main__":
    main()
