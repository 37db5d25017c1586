#!/usr/bin/env python3
"""Generate the document-format test vectors (docs/FORMAT.md#test-vectors).

Writes ``tests/vectors/format/{valid,invalid}.json`` (version 2, what byok writes) and
``tests/vectors/format/v1-{valid,invalid}.json`` (version 1, still read; built by
``scripts/vectors_v1.py`` straight from the spec) from fixed tenant keys and salts, so the
output is identical on every run; ``tests/unit/test_format_vectors.py`` checks the files equal
:func:`build` and that every vector decrypts (or fails) as recorded.

Usage: ``python scripts/make_vectors.py [--check]`` (``--check`` exits 1 if the files differ).
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vectors_v1 import KB, TK_MAIN, TK_OTHER, _bytes, build_v1, encrypt_v1

from byok.core.bound_context import BoundContext
from byok.core.format import ALGORITHM, VERSION, parse_header
from byok.core.raw_keys import V2_INFO_LABEL, TenantKey, derive_document_key
from byok.core.stream import encrypt_bytes

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "format"
WRITE = "w_" + "0123456789abcdef" * 2
Case = tuple[str, str, str, str | None, dict[str, str], str, int, bytes]


def _valid_cases() -> list[dict[str, Any]]:
    long_id = "é" * 128  # a 256-byte tenant and TK id (their maximum)
    period = {"period": "2026-12", "scope": "invoices"}
    W, T = WRITE, "tk_main"
    cases: list[Case] = [
        ("empty document", "acme", "doc-empty", W, {}, T, KB, b""),
        ("one byte", "acme", "doc-1b", W, {}, T, KB, b"x"),
        ("one short frame", "acme", "doc-hello", W, {}, T, KB, b"hello, byok"),
        ("no write id", "acme", "doc-plain", None, {}, "tk_main", KB, b"outside the store"),
        ("one byte less than a frame", "acme", "doc-f-1", W, {}, T, KB, _bytes("p1", KB - 1)),
        ("exactly one frame", "acme", "doc-f", W, {}, T, KB, _bytes("p2", KB)),
        ("exact multiple of the frame size", "acme", "doc-3f", W, {}, T, KB, _bytes("p3", 3 * KB)),
        ("multi-frame", "acme", "doc-multi", W, {}, T, KB, _bytes("p4", 3 * KB + 100)),
        ("4 KiB frames", "acme", "doc-4k", W, {}, T, 4 * KB, _bytes("p5", 10_000)),
        ("64 KiB frames, small", "acme", "doc-64k", W, {}, T, 64 * KB, _bytes("p6", 777)),
        ("unicode ids", "Ünïcødé GmbH", "dir/文書.txt", "w_ü", {}, "tk_ü", KB, "grüße".encode()),
        ("longest ids", long_id, "d" * 4096, WRITE, {}, long_id, KB, b"max ids"),
        ("extra pairs", "acme", "doc-scoped", WRITE, period, "tk_main", KB, b"scoped"),
    ]  # fmt: skip
    return [_valid(*case) for case in cases]


def _context(v: dict[str, Any]) -> BoundContext:
    return BoundContext(v["tenant"], v["document_id"], v["write_id"], v["extra_context"])


def _valid(
    name: str, tenant: str, doc: str, write: str | None, extra: dict[str, str], tk_id: str,
    frame_size: int, plaintext: bytes,
) -> dict[str, Any]:  # fmt: skip
    salt = _bytes(f"salt/{name}", 32)
    key = TenantKey(tenant, tk_id, TK_MAIN)
    context = BoundContext(tenant, doc, write, extra)
    ct = bytes(encrypt_bytes(plaintext, key, context, frame_size=frame_size, salt=salt))
    header = parse_header(ct)
    info = V2_INFO_LABEL + header.body
    derived = derive_document_key(TK_MAIN, salt, info)
    return {
        "name": name, "tenant": tenant, "document_id": doc, "write_id": write,
        "extra_context": extra, "bound_context": context.encoded.hex(), "tk_id": tk_id,
        "tenant_key": TK_MAIN.hex(), "salt": salt.hex(), "frame_size": frame_size,
        "hkdf_info": info.hex(), "document_key": derived.key.hex(),
        "commitment": derived.commitment.hex(), "plaintext": plaintext.hex(),
        "ciphertext": ct.hex(),
    }  # fmt: skip


def _frames(ct: bytes) -> tuple[bytes, list[bytes]]:
    header = parse_header(ct)
    body, full = ct[header.size :], header.frame_size + 16
    return ct[: header.size], [body[i : i + full] for i in range(0, len(body), full)]


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def _seal_v2(prefix: bytes, plaintext: bytes, *, final_on_last_full: bool = False) -> bytes:
    """A v2 document with header ``prefix`` (before the salt) and *valid* commitment and frames.

    Only a check that does not depend on the keys (a parser rule, the framing rule) can then
    catch what is wrong with it.
    """
    salt = _bytes("salt/reseal", 32)
    derived = derive_document_key(TK_MAIN, salt, V2_INFO_LABEL + prefix)
    aead, size = AESGCM(derived.key), struct.unpack(">I", prefix[6:10])[0]
    chunks = [plaintext[i : i + size] for i in range(0, len(plaintext), size)]
    if not final_on_last_full and len(plaintext) % size == 0:
        chunks.append(b"")  # docs/FORMAT.md#frames: the empty final frame
    frames = [
        aead.encrypt(b"\x00" * 4 + struct.pack(">Q", i), chunk, bytes([i == len(chunks) - 1]))
        for i, chunk in enumerate(chunks)
    ]  # fmt: skip
    return prefix + salt + derived.commitment + b"".join(frames)


def _pairs(*pairs: tuple[bytes, bytes], count: int | None = None) -> bytes:
    out = struct.pack(">H", len(pairs) if count is None else count)
    return out + b"".join(
        struct.pack(">H", len(k)) + k + struct.pack(">H", len(v)) + v for k, v in pairs
    )


def _prefix(context: bytes, tk: bytes = b"tk_main", frame_size: int = KB) -> bytes:
    return b"BYOK\x02\x02" + struct.pack(">IH", frame_size, len(tk)) + tk + context


def _invalid_cases(valid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {v["name"]: v for v in valid}
    base = by_name["multi-frame"]
    ct = bytes.fromhex(base["ciphertext"])
    exact = bytes.fromhex(by_name["exact multiple of the frame size"]["ciphertext"])
    head, frames = _frames(ct)
    other_head, other_frames = _frames(exact)
    hs, ctx_at = len(head), 12 + len("tk_main")
    doc, ten, wr = (b"document", b"doc-multi"), (b"tenant", b"acme"), (b"write", WRITE.encode())
    plain = bytes.fromhex(base["plaintext"])
    key = TenantKey("acme", "tk_main", TK_MAIN)
    v1 = encrypt_v1(plain, key, "doc-multi", KB, _bytes("salt/v1", 32))
    cases: list[tuple[str, str, bytes, dict[str, Any]]] = [
        ("truncate_final_frame", "final frame removed", head + b"".join(frames[:-1]), {}),
        ("truncate_mid_frame", "last 5 bytes removed", ct[:-5], {}),
        ("truncate_in_tag", "cut inside the final frame's tag", ct[: -len(frames[-1]) + 8], {}),
        ("truncate_header", "cut inside the header", ct[: hs - 1], {}),
        ("header_only", "no frame at all", head, {}),
        ("missing_empty_final_frame", "exact multiple without its empty final frame", exact[:-16],
         {"document_id": "doc-3f"}),
        ("swap_frames", "frames 0 and 1 swapped",
         head + frames[1] + frames[0] + b"".join(frames[2:]), {}),
        ("duplicate_frame", "frame 0 twice", head + frames[0] + b"".join(frames), {}),
        ("drop_frame", "frame 1 removed", head + frames[0] + b"".join(frames[2:]), {}),
        ("splice_other_document", "frame 0 from another document",
         head + other_frames[0] + b"".join(frames[1:]), {}),
        ("header_from_other_document", "another document's header",
         other_head + b"".join(frames), {}),
        ("trailing_data", "one byte after the final frame", ct + b"\x00", {}),
        ("wrong_document_id", "read as another document id", ct, {"document_id": "doc-other"}),
        ("wrong_tenant", "read as another tenant", ct, {"tenant": "evil"}),
        ("wrong_tk_id", "key offered under another TK id", ct, {"tk_id": "tk_other"}),
        ("wrong_key", "another tenant key", ct, {"tenant_key": TK_OTHER.hex()}),
        ("rollback_other_write_id", "an earlier write of the document (another write id)", ct,
         {"write_id": "w_" + "f" * 32}),
        ("write_id_expected_missing", "header binds no write id, reader expects one",
         bytes.fromhex(by_name["no write id"]["ciphertext"]), {"document_id": "doc-plain"}),
        ("unexpected_pair", "header binds scope and period the reader does not expect",
         bytes.fromhex(by_name["extra pairs"]["ciphertext"]), {"document_id": "doc-scoped"}),
        ("v1_downgrade", "a valid v1 document read where a write id is expected", v1, {}),
        ("context_value_edit", "a byte of the document id changed", _flip(ct, ctx_at + 14), {}),
        ("tk_id_edit", "a byte of the TK id changed", _flip(ct, 12), {}),
        ("frame_size_edit", "frame size changed", ct[:8] + b"\x08" + ct[9:], {}),
        ("salt_edit", "salt bit flipped", _flip(ct, hs - 50), {}),
        ("commitment_mismatch_valid_tags", "commitment bit flipped; every frame is still valid",
         _flip(ct, hs - 1), {}),
        ("frame_tag_edit", "last frame's tag bit flipped", _flip(ct, len(ct) - 1), {}),
        ("frame_ciphertext_edit", "a ciphertext bit flipped in frame 1",
         _flip(ct, hs + len(frames[0]) + 10), {}),
        ("bad_magic", "magic is not BYOK", b"BYOX" + ct[4:], {}),
        ("bad_version", "version 3", ct[:4] + b"\x03" + ct[5:], {}),
        ("bad_algorithm", "version 2 with algorithm 1", ct[:5] + b"\x01" + ct[6:], {}),
        ("tk_id_length_zero", "TK id length 0", ct[:10] + b"\x00\x00" + ct[12:], {}),
        ("tk_id_length_too_long", "TK id length 257", ct[:10] + b"\x01\x01" + ct[12:], {}),
        ("frame_size_too_small", "frame size 1023", ct[:6] + struct.pack(">I", 1023) + ct[10:], {}),
        ("frame_size_too_large", "frame size 16 MiB + 1",
         ct[:6] + struct.pack(">I", 2**24 + 1) + ct[10:], {}),
        ("context_too_many_pairs", "17 pairs announced",
         ct[:ctx_at] + b"\x00\x11" + ct[ctx_at + 2 :], {}),
        ("context_key_too_long", "a 65-byte key, valid commitment and frames",
         _seal_v2(_prefix(_pairs(doc, (b"k" * 65, b"v"), ten, wr)), plain), {}),
        ("context_value_too_long", "a value length of 4097 announced",
         ct[: ctx_at + 12] + b"\x10\x01" + ct[ctx_at + 14 :], {}),
        ("context_not_sorted", "pairs out of order, valid commitment and frames",
         _seal_v2(_prefix(_pairs(ten, doc, wr)), plain), {}),
        ("context_duplicate_key", "tenant twice, valid commitment and frames",
         _seal_v2(_prefix(_pairs(doc, ten, ten, wr)), plain), {}),
        ("context_without_tenant", "no tenant pair, valid commitment and frames",
         _seal_v2(_prefix(_pairs(doc, wr)), plain), {}),
        ("context_not_utf8", "a document id byte that is not UTF-8",
         ct[: ctx_at + 14] + b"\xff" + ct[ctx_at + 15 :], {}),
        ("empty", "zero bytes", b"", {}),
        ("full_final_frame", "last full frame sealed as final, no empty frame after it",
         _seal_v2(_prefix(_pairs(doc, ten, wr)), plain[: 3 * KB], final_on_last_full=True), {}),
    ]  # fmt: skip
    out = []
    for kind, description, data, override in cases:
        vector = {key: base[key] for key in ("tenant", "document_id", "write_id", "extra_context",
                                             "tk_id", "tenant_key")}  # fmt: skip
        vector.update({"kind": kind, "description": description, "ciphertext": data.hex()})
        vector.update(override)
        out.append(vector)
    return out


def build() -> dict[str, Any]:
    """Return the contents of every vector file, by file name."""
    valid = _valid_cases()
    note = "Generated by scripts/make_vectors.py; spec: docs/FORMAT.md. Hex strings are bytes."
    return {
        "valid.json": {"format_version": VERSION, "algorithm": ALGORITHM, "note": note,
                       "vectors": valid},
        "invalid.json": {
            "format_version": VERSION, "algorithm": ALGORITHM,
            "note": note + " Every vector must fail with the one integrity error.",
            "vectors": _invalid_cases(valid),
        },
        **build_v1(note),
    }  # fmt: skip


def render(content: dict[str, Any]) -> str:
    """The exact text of one vector file."""
    return json.dumps(content, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Write (or with ``--check`` compare) the vector files; returns the exit code."""
    files = {name: render(content) for name, content in build().items()}
    if "--check" in argv:
        stale = [n for n, text in files.items() if (OUT / n).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"stale: {OUT / name}", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
