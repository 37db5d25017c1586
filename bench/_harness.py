"""Shared pieces of the envelope benchmarks: timing, the result table, counting wrappers."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

from byok.core.envelope import Envelope
from byok.core.format import DEFAULT_FRAME_SIZE
from byok.core.keywrap import DataKey, KeyWrapper, UnwrappedKey
from byok.core.memory_wrapper import MemoryKeyWrapper
from byok.core.tenant_keys import MemoryTenantKeyStore

KIB, MIB = 1024, 1024 * 1024
TENANT = "bench-tenant"


@dataclass
class Row:
    """One line of the table."""

    what: str
    byok: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


class CountingWrapper:
    """A KeyWrapper proxy counting every call that reaches the root key (KMS)."""

    def __init__(self, inner: KeyWrapper) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def key_arn(self) -> str:
        return self.inner.key_arn

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        self.calls += 1
        return self.inner.generate_data_key(context)

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> UnwrappedKey:
        self.calls += 1
        return self.inner.unwrap(wrapped, context)

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        self.calls += 1
        return self.inner.encrypt(plaintext, context)

    def rewrap(
        self, wrapped: bytes, context: Mapping[str, str], destination: KeyWrapper
    ) -> DataKey:
        self.calls += 1
        return self.inner.rewrap(wrapped, context, destination)


def best(fn: Callable[[], object], repeat: int, number: int = 1) -> float:
    """Seconds per call: the best of ``repeat`` batches of ``number`` calls, after a warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def roundtrip(env: Envelope, wrapper: KeyWrapper, data: bytes) -> Callable[[], object]:
    def run() -> object:
        ct = env.encrypt(TENANT, wrapper, "doc", data)
        return env.decrypt(TENANT, wrapper, "doc", ct)

    return run


def memory_envelope(frame_size: int = DEFAULT_FRAME_SIZE) -> tuple[Envelope, KeyWrapper]:
    wrapper = MemoryKeyWrapper()
    return Envelope(MemoryTenantKeyStore(), frame_size=frame_size), wrapper


def interleaved(runs: Mapping[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best seconds per run of each function, timed in rounds (one warm-up round first).

    Interleaving makes drift and other processes' load hit every candidate alike.
    """
    times = {name: float("inf") for name in runs}
    for round_number in range(repeat + 1):
        for name, fn in runs.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            if round_number:
                times[name] = min(times[name], time.perf_counter() - start)
    return times


def count_kms_calls(wrapper: KeyWrapper, operations: int = 10_000) -> int:
    counting = CountingWrapper(wrapper)
    env = Envelope(MemoryTenantKeyStore())
    data = os.urandom(4 * KIB)
    cts = [env.encrypt(TENANT, counting, f"doc-{i}", data) for i in range(operations)]
    for i, ct in enumerate(cts):
        env.decrypt(TENANT, counting, f"doc-{i}", ct)
    return counting.calls


_ROW_FIELDS = [f.name for f in fields(Row)]


def print_table(rows: list[Row]) -> None:
    """Print the rows as an aligned table."""
    headers = Row("measurement", "byok", "baseline (same run)", "ratio", "target", "")
    widths = [max(len(getattr(r, f)) for r in [headers, *rows]) for f in _ROW_FIELDS]
    for i, row in enumerate([headers, *rows]):
        cells = [getattr(row, f).ljust(w) for f, w in zip(_ROW_FIELDS, widths, strict=True)]
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def per_op(seconds: float) -> str:
    """``12.3 us/op`` or ``4.56 ms/op``."""
    return f"{seconds * 1e6:.1f} us/op" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms/op"
