#!/usr/bin/env python3
"""Envelope benchmarks (issue 3): byok's document encryption against its baselines.

Every ratio compares figures measured in this run, in this process (best of several runs;
the first run of each is a warm-up):

* 64 MiB document encrypt+decrypt (one-shot API) vs raw ``cryptography`` AESGCM one-shot on the
  same bytes; a frame-size sweep (one-shot, and streaming encrypt piped into streaming decrypt)
  shows why the default frame size is 256 KiB (docs/FORMAT.md#frame-size).
* 4 KiB and 4 MiB documents, warm tenant-key cache, per encrypt+decrypt.
* KMS calls for 10,000 encrypts + 10,000 decrypts of one tenant in one process.
* Peak extra memory while streaming a 1 GiB document (encrypt piped into decrypt), measured in
  a child process (tracemalloc and RSS); input generated lazily, output discarded.
* 4 KiB against Asherah (the fastest peer library) in the same process, one and eight
  threads (``bench/_envelope_peers.py``; says so when ``asherah`` is not installed).
* With the project's local AWS (``byok.localaws``) and KMS wrapper (``byok.aws.kms``): the
  same 4 KiB / 4 MiB operations through a real (local) KMS key vs the AWS Encryption SDK for
  Python (caching CMM, committing unsigned suite ``AES_256_GCM_HKDF_SHA512_COMMIT_KEY``) on the
  same key. If those modules are missing the rows say exactly why they were skipped.

Figures merge into ``bench/results.json`` (``bench/_results.py``). Usage:
``python bench/envelope.py [--quick]`` (``--quick``: smaller sizes, for a smoke run).
"""

from __future__ import annotations

import argparse
import functools
import gc
import hmac
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _envelope_esdk import bench_esdk
from _envelope_peers import bench_peers
from _harness import (
    KIB,
    MIB,
    TENANT,
    Row,
    best,
    count_kms_calls,
    interleaved,
    memory_envelope,
    print_table,
    roundtrip,
    verdict,
)
from _results import Figure, merge
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byok.core.envelope import Envelope
from byok.core.format import DEFAULT_FRAME_SIZE
from byok.core.keywrap import KeyWrapper
from byok.core.memory_wrapper import MemoryKeyWrapper

# -- 64 MiB and frame sizes --------------------------------------------------------------------


def bench_large(size: int, repeat: int, rows: list[Row], figures: dict[str, Figure]) -> None:
    data = os.urandom(size)
    aead, nonce = AESGCM(AESGCM.generate_key(256)), os.urandom(12)

    def raw() -> object:
        return aead.decrypt(nonce, aead.encrypt(nonce, data, None), None)

    env, wrapper = memory_envelope()
    runs: dict[str, Callable[[], object]] = {"raw": raw, "default": roundtrip(env, wrapper, data)}
    for frame_size in SWEEP:  # docs/FORMAT.md#frame-size: how the default was chosen
        env_f, wrapper_f = memory_envelope(frame_size)
        runs[f"one-shot {frame_size}"] = roundtrip(env_f, wrapper_f, data)
        runs[f"pipe {frame_size}"] = functools.partial(_pipe, env_f, wrapper_f, data)
    times = interleaved(runs, repeat)
    ratio = times["raw"] / times["default"]
    rows.append(
        Row(
            f"{size // MIB} MiB encrypt+decrypt (one-shot API)",
            _rate(size, times["default"]),
            f"raw AESGCM {_rate(size, times['raw'])}",
            f"{ratio:.2f}x",
            ">= 0.80x",
            verdict(ratio >= 0.8),
        )
    )
    figures["envelope_64mib_ratio_vs_aesgcm"] = ratio
    for frame_size in SWEEP:
        one, pipe = times[f"one-shot {frame_size}"], times[f"pipe {frame_size}"]
        mark = " (default)" if frame_size == DEFAULT_FRAME_SIZE else ""
        rows.append(
            Row(
                f"  frame size {frame_size // KIB} KiB{mark}: one-shot | streamed",
                f"{_rate(size, one)} | {_rate(size, pipe)}",
                "",
                f"{_x(times, one)} | {_x(times, pipe)}",
            )
        )


SWEEP = (64 * KIB, 256 * KIB, 1024 * KIB, 4096 * KIB)


def _x(times: Mapping[str, float], t: float) -> str:
    return f"{times['raw'] / t:.2f}x"


class Discard:
    """A sink that only counts."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        self.n += len(data)


def _pipe(env: Envelope, wrapper: KeyWrapper, data: bytes) -> None:
    """Streaming encrypt piped into streaming decrypt, output discarded: no big buffers."""
    chunks = env.iter_encrypt(TENANT, wrapper, "doc", io.BytesIO(data))
    env.decrypt_stream(TENANT, wrapper, "doc", chunks, Discard())


def _rate(size: int, seconds: float) -> str:
    return f"{size / seconds / 1e9:.2f} GB/s"


# -- small documents, KMS calls ----------------------------------------------------------------


def bench_small(repeat: int, rows: list[Row], figures: dict[str, Figure]) -> None:
    env, wrapper = memory_envelope()
    small, big = os.urandom(4 * KIB), os.urandom(4 * MIB)
    batch = 1000
    ours, floor = roundtrip(env, wrapper, small), crypto_floor(small)
    runs = {
        "ours": lambda: [ours() for _ in range(batch)],
        "floor": lambda: [floor() for _ in range(batch)],
    }
    times = {k: v / batch for k, v in interleaved(runs, repeat).items()}
    us, floor_us = times["ours"] * 1e6, times["floor"] * 1e6
    rows.append(
        Row(
            "4 KiB encrypt+decrypt, warm cache",
            f"{us:.1f} us/op",
            f"crypto floor {floor_us:.1f} us",
            f"{floor_us / us:.2f}x",
            "<= 25 us",
            verdict(us <= 25),
        )
    )
    t_big = best(roundtrip(env, wrapper, big), repeat, 5)
    rows.append(
        Row(
            "4 MiB encrypt+decrypt, warm cache",
            f"{t_big * 1e3:.2f} ms/op ({4 / t_big:.0f} MiB/s)",
        )
    )
    figures["envelope_4kib_us_per_op"] = us


def crypto_floor(data: bytes) -> Callable[[], object]:
    """Only the primitives format v2 needs for one document, with no byok code around them.

    docs/FORMAT.md#document-key and #frames, per side: one HKDF-SHA256 over the header prefix
    (L=64: the extract and two expand HMACs, with the standard library's one-shot HMAC as
    ``byok.core.raw_keys.document_okm`` does, the cheapest way to those bytes), an AESGCM key
    set-up and one final frame (nonce 0, aad ``u8(1)``); the reader also compares the
    commitment in constant time, which is its header authentication. No header tag, no header
    hash. byok's per-document overhead is its time minus this floor.
    """
    tk, nonce, final = os.urandom(32), b"\0" * 12, b"\1"
    # The 86-byte prefix byok writes here: magic, version 2, algorithm 2, F, a 35-byte TK id
    # and the bound context {document: doc, tenant: bench-tenant}.
    pairs = (b"document", b"doc", b"tenant", TENANT.encode())
    prefix = b"BYOK\2\2" + DEFAULT_FRAME_SIZE.to_bytes(4, "big") + _lp16(b"t" * 35)
    prefix += (len(pairs) // 2).to_bytes(2, "big")
    prefix += b"".join(_lp16(p) for p in pairs)
    info, n = b"byok/v2/document" + prefix, len(prefix)

    def okm(salt: bytes) -> bytes:
        prk = hmac.digest(salt, tk, "sha256")
        t1 = hmac.digest(prk, info + b"\1", "sha256")
        return t1 + hmac.digest(prk, t1 + info + b"\2", "sha256")

    def run() -> object:
        salt = os.urandom(32)
        key = okm(salt)
        doc = prefix + salt + key[32:] + AESGCM(key[:32]).encrypt(nonce, data, final)
        key2 = okm(doc[n : n + 32])
        if not hmac.compare_digest(key2[32:], doc[n + 32 : n + 64]):
            raise AssertionError("commitment mismatch")
        return AESGCM(key2[:32]).decrypt(nonce, doc[n + 64 :], final)

    return run


def _lp16(field: bytes) -> bytes:
    return len(field).to_bytes(2, "big") + field


def bench_kms_calls(rows: list[Row], figures: dict[str, Figure]) -> None:
    calls = count_kms_calls(MemoryKeyWrapper())
    rows.append(
        Row(
            "KMS calls, 10k encrypts + 10k decrypts",
            str(calls),
            "in-memory wrapper",
            "",
            "<= 2",
            verdict(calls <= 2),
        )
    )
    figures["envelope_kms_calls_20k_ops"] = calls


# -- 1 GiB streaming memory (child process) ----------------------------------------------------


def stream_child(total_mib: int) -> dict[str, float]:
    """Run in a child: stream ``total_mib`` MiB through encrypt and decrypt; report memory."""
    env, wrapper = memory_envelope()
    block = os.urandom(MIB)

    def source() -> Iterator[bytes]:
        for _ in range(total_mib):
            yield block

    env.encrypt(TENANT, wrapper, "warm", b"")  # TK made outside the measurement
    sink = Discard()
    gc.collect()
    _reset_peak_rss()
    rss_before = _proc_status_kib("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    chunks = env.iter_encrypt(TENANT, wrapper, "big", source())
    env.decrypt_stream(TENANT, wrapper, "big", chunks, sink)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sink.n == total_mib * MIB
    rss_extra = (_proc_status_kib("VmHWM") - rss_before) * KIB
    return {
        "tracemalloc_mib": peak / MIB,
        "rss_extra_mib": max(0, rss_extra) / MIB,
        "seconds": elapsed,
    }


def _proc_status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (VmRSS: now; VmHWM: peak of this process image).

    ``getrusage`` is not used: Linux carries ``ru_maxrss`` over from the forking parent.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux: ``echo 5 > /proc/self/clear_refs``)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def bench_stream(total_mib: int, rows: list[Row], figures: dict[str, Figure]) -> None:
    out = subprocess.run(
        [sys.executable, __file__, "--stream-child", str(total_mib)],
        check=True,
        capture_output=True,
        text=True,
    )
    child = json.loads(out.stdout)
    peak = max(child["tracemalloc_mib"], child["rss_extra_mib"])
    label = f"{total_mib // 1024} GiB" if total_mib >= 1024 else f"{total_mib} MiB"
    rows.append(
        Row(
            f"stream {label} (encrypt | decrypt), peak extra",
            f"{peak:.1f} MiB",
            f"tracemalloc {child['tracemalloc_mib']:.1f}, RSS +{child['rss_extra_mib']:.1f} MiB",
            f"{total_mib / child['seconds'] / 1024:.2f} GiB/s",
            "< 16 MiB",
            verdict(peak < 16),
        )
    )
    figures["envelope_stream_1gib_peak_mib"] = peak


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--stream-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stream_child:
        print(json.dumps(stream_child(args.stream_child)))
        return 0
    repeat = 3 if args.quick else 7
    rows: list[Row] = []
    figures: dict[str, Figure] = {}
    mode = "quick" if args.quick else "full"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"byok envelope benchmark ({mode}): Python {sys.version.split()[0]}, ", end="")
    print(f"{os.cpu_count()} CPUs, load average {load} (others' load skews absolute figures)")
    bench_large((8 if args.quick else 64) * MIB, repeat, rows, figures)
    bench_small(repeat, rows, figures)
    bench_peers(repeat, 1.0 if args.quick else 3.0, rows, figures)
    bench_kms_calls(rows, figures)
    bench_stream(128 if args.quick else 1024, rows, figures)
    bench_esdk(repeat, rows, figures)
    print()
    print_table(rows)
    if not args.quick:
        merge(figures)
        print(f"\nmerged into {Path(__file__).resolve().with_name('results.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
