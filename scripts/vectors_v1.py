"""Version 1 format test vectors (docs/FORMAT.md#version-1), for scripts/make_vectors.py.

byok no longer writes version 1, so this module encrypts v1 documents itself, from the spec,
with only ``cryptography`` primitives (:func:`encrypt_v1`); the files it produces are the v1
vectors every reader must keep accepting (and rejecting) exactly as before.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from byok.core.format import parse_header
from byok.core.raw_keys import TenantKey, derive_document_key, document_key_info
from byok.core.stream import decrypt_bytes

VERSION = ALGORITHM = 1

KB = 1024


def _bytes(seed: str, n: int) -> bytes:
    """Deterministic pseudo-random bytes (SHA-256 in counter mode): fixed keys and salts."""
    out = b"".join(hashlib.sha256(f"{seed}/{i}".encode()).digest() for i in range(n // 32 + 1))
    return out[:n]


TK_MAIN = _bytes("tk-main", 32)
TK_OTHER = _bytes("tk-other", 32)


def _valid_cases() -> list[dict[str, Any]]:
    long_id = "é" * 128  # 256 bytes of UTF-8, the maximum
    cases: list[tuple[str, str, str, str, int, bytes]] = [
        ("empty document", "acme", "doc-empty", "tk_main", KB, b""),
        ("one byte", "acme", "doc-1b", "tk_main", KB, b"x"),
        ("one short frame", "acme", "doc-hello", "tk_main", KB, b"hello, byok"),
        ("one byte less than a frame", "acme", "doc-f-1", "tk_main", KB, _bytes("p1", KB - 1)),
        ("exactly one frame", "acme", "doc-f", "tk_main", KB, _bytes("p2", KB)),
        ("exact multiple of the frame size", "acme", "doc-3f", "tk_main", KB, _bytes("p3", 3 * KB)),
        ("multi-frame", "acme", "doc-multi", "tk_main", KB, _bytes("p4", 3 * KB + 100)),
        ("4 KiB frames", "acme", "doc-4k", "tk_main", 4 * KB, _bytes("p5", 10_000)),
        ("64 KiB frames, small", "acme", "doc-64k", "tk_main", 64 * KB, _bytes("p6", 777)),
        ("unicode ids", "Ünïcødé GmbH", "dir/文書.txt", "tk_ü", KB, "grüße".encode()),
        ("longest ids", long_id, long_id, long_id, KB, b"max ids"),
    ]
    return [_valid(*case) for case in cases]


def _valid(
    name: str, tenant: str, doc: str, tk_id: str, frame_size: int, plaintext: bytes
) -> dict[str, Any]:
    salt = _bytes(f"salt/{name}", 32)
    key = TenantKey(tenant, tk_id, TK_MAIN)
    ct = encrypt_v1(plaintext, key, doc, frame_size, salt)
    info = document_key_info(VERSION, ALGORITHM, tenant.encode(), doc.encode(), tk_id.encode())
    derived = derive_document_key(TK_MAIN, salt, info)
    header = parse_header(ct)
    return {
        "name": name,
        "tenant": tenant,
        "document_id": doc,
        "tk_id": tk_id,
        "tenant_key": TK_MAIN.hex(),
        "salt": salt.hex(),
        "frame_size": frame_size,
        "hkdf_info": info.hex(),
        "document_key": derived.key.hex(),
        "commitment": derived.commitment.hex(),
        "header_hash": hashlib.sha256(ct[: header.size]).hexdigest(),
        "plaintext": plaintext.hex(),
        "ciphertext": ct.hex(),
    }


def _frames(ct: bytes) -> tuple[bytes, list[bytes]]:
    header = parse_header(ct)
    body, full = ct[header.size :], header.frame_size + 16
    return ct[: header.size], [body[i : i + full] for i in range(0, len(body), full)]


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


def _reseal(ct: bytes, edit: Callable[[bytes], bytes], final_on_last_full: bool = False) -> bytes:
    """Re-encrypt ``ct`` with an edited header body but *valid* header tag and frames.

    Only a check that does not depend on the tags (the commitment, or the final-frame rule)
    can then catch the edit.
    """
    header = parse_header(ct)
    info = document_key_info(VERSION, ALGORITHM, b"acme", b"doc-multi", b"tk_main")
    aead = AESGCM(derive_document_key(TK_MAIN, header.salt, info).key)
    body = edit(header.body)
    head = body + aead.encrypt(b"\xff" * 12, b"", body)
    digest = hashlib.sha256(head).digest()
    plaintext = bytes(_plain_frames(ct, aead, header.body + header.tag, header.frame_size))
    frames, size = [], header.frame_size
    chunks = [plaintext[i : i + size] for i in range(0, len(plaintext), size)]
    if not final_on_last_full and len(plaintext) % size == 0:
        chunks.append(b"")  # docs/FORMAT.md#frames: the empty final frame
    for i, chunk in enumerate(chunks):
        final = b"\x01" if i == len(chunks) - 1 else b"\x00"
        nonce = b"\x00" * 4 + struct.pack(">Q", i)
        frames.append(aead.encrypt(nonce, chunk, digest + struct.pack(">Q", i) + final))
    return head + b"".join(frames)


def _plain_frames(ct: bytes, aead: AESGCM, head: bytes, size: int) -> bytes:
    digest = hashlib.sha256(head).digest()
    _, frames = _frames(ct)
    out = b""
    for i, frame in enumerate(frames):
        final = b"\x01" if i == len(frames) - 1 else b"\x00"
        nonce = b"\x00" * 4 + struct.pack(">Q", i)
        out += aead.decrypt(nonce, frame, digest + struct.pack(">Q", i) + final)
    return out


def _invalid_cases(valid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {v["name"]: v for v in valid}
    ct = bytes.fromhex(by_name["multi-frame"]["ciphertext"])
    exact = bytes.fromhex(by_name["exact multiple of the frame size"]["ciphertext"])
    other = bytes.fromhex(by_name["exact multiple of the frame size"]["ciphertext"])
    head, frames = _frames(ct)
    other_head, other_frames = _frames(other)
    hs = len(head)
    tenant_at = 12  # first byte of the tenant id
    cases: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("truncate_final_frame", "final frame removed", head + b"".join(frames[:-1]), {}),
        ("truncate_mid_frame", "last 5 bytes removed", ct[:-5], {}),
        ("truncate_in_tag", "cut inside the final frame's tag", ct[: -len(frames[-1]) + 8], {}),
        ("truncate_header", "cut inside the header", ct[: hs - 1], {}),
        ("header_only", "no frame at all", head, {}),
        (
            "missing_empty_final_frame",
            "exact multiple without its empty final frame",
            exact[:-16],
            {},
        ),
        (
            "swap_frames",
            "frames 0 and 1 swapped",
            head + frames[1] + frames[0] + b"".join(frames[2:]),
            {},
        ),
        ("duplicate_frame", "frame 0 twice", head + frames[0] + b"".join(frames), {}),
        ("drop_frame", "frame 1 removed", head + frames[0] + b"".join(frames[2:]), {}),
        (
            "splice_other_document",
            "frame 0 from another document",
            head + other_frames[0] + b"".join(frames[1:]),
            {},
        ),
        (
            "header_from_other_document",
            "another document's header",
            other_head + b"".join(frames),
            {},
        ),
        ("trailing_data", "one byte after the final frame", ct + b"\x00", {}),
        ("wrong_document_id", "decrypted as another document id", ct, {"document_id": "doc-other"}),
        ("wrong_tenant", "decrypted as another tenant", ct, {"tenant": "evil"}),
        ("wrong_tk_id", "key offered under another TK id", ct, {"tk_id": "tk_other"}),
        ("wrong_key", "another tenant key", ct, {"tenant_key": TK_OTHER.hex()}),
        ("tenant_id_edit", "tenant id byte changed", _flip(ct, tenant_at), {}),
        ("frame_size_edit", "frame size changed", ct[:8] + b"\x08" + ct[9:], {}),
        ("salt_edit", "salt bit flipped", _flip(ct, hs - 80), {}),
        ("commitment_edit", "commitment bit flipped", _flip(ct, hs - 48), {}),
        ("header_tag_edit", "header tag bit flipped", _flip(ct, hs - 1), {}),
        ("frame_tag_edit", "last frame's tag bit flipped", _flip(ct, len(ct) - 1), {}),
        (
            "frame_ciphertext_edit",
            "a ciphertext bit flipped in frame 1",
            _flip(ct, hs + len(frames[0]) + 10),
            {},
        ),
        ("bad_magic", "magic is not BYOK", b"BYOX" + ct[4:], {}),
        ("bad_version", "version 2", ct[:4] + b"\x02" + ct[5:], {}),
        ("bad_algorithm", "algorithm 2", ct[:5] + b"\x02" + ct[6:], {}),
        ("id_length_zero", "tenant id length 0", ct[:10] + b"\x00\x00" + ct[12:], {}),
        ("id_length_too_long", "tenant id length 257", ct[:10] + b"\x01\x01" + ct[12:], {}),
        ("frame_size_too_small", "frame size 1023", ct[:6] + struct.pack(">I", 1023) + ct[10:], {}),
        (
            "frame_size_too_large",
            "frame size 16 MiB + 1",
            ct[:6] + struct.pack(">I", 2**24 + 1) + ct[10:],
            {},
        ),
        ("non_utf8_id", "tenant id not UTF-8", ct[:tenant_at] + b"\xff" + ct[tenant_at + 1 :], {}),
        ("empty", "zero bytes", b"", {}),
        (
            "commitment_mismatch_valid_tags",
            "commitment changed, header tag and frames re-sealed: only the commitment fails",
            _reseal(ct, lambda body: body[:-1] + bytes([body[-1] ^ 1])),
            {},
        ),
        (
            "full_final_frame",
            "last full frame sealed as final, no empty frame after it: only the framing rule fails",
            _reseal(exact_as_multi(exact), lambda body: body, final_on_last_full=True),
            {"document_id": "doc-multi"},
        ),
    ]
    out = []
    base = by_name["multi-frame"]
    for kind, description, data, override in cases:
        vector = {
            "kind": kind,
            "description": description,
            "tenant": base["tenant"],
            "document_id": base["document_id"],
            "tk_id": base["tk_id"],
            "tenant_key": base["tenant_key"],
            "ciphertext": data.hex(),
        }
        vector.update(override)
        out.append(vector)
    return out


def exact_as_multi(exact: bytes) -> bytes:
    """The exact-multiple plaintext re-encrypted as document ``doc-multi`` (for _reseal)."""
    plaintext = bytes(decrypt_bytes(exact, TenantKey("acme", "tk_main", TK_MAIN), "doc-3f"))
    key = TenantKey("acme", "tk_main", TK_MAIN)
    return encrypt_v1(plaintext, key, "doc-multi", KB, _bytes("s", 32))


def encrypt_v1(plaintext: bytes, key: TenantKey, doc: str, frame_size: int, salt: bytes) -> bytes:
    """A version 1 document, straight from docs/FORMAT.md#version-1."""
    ids = b"".join(
        len(x).to_bytes(2, "big") + x for x in (key.tenant_raw, doc.encode(), key.tk_id_raw)
    )
    info = document_key_info(VERSION, ALGORITHM, key.tenant_raw, doc.encode(), key.tk_id_raw)
    derived = derive_document_key(key.material, salt, info)
    aead = AESGCM(derived.key)
    body = b"BYOK\x01\x01" + struct.pack(">I", frame_size) + ids + salt + derived.commitment
    head = body + aead.encrypt(b"\xff" * 12, b"", body)
    digest = hashlib.sha256(head).digest()
    chunks = [plaintext[i : i + frame_size] for i in range(0, len(plaintext), frame_size)]
    if len(plaintext) % frame_size == 0:
        chunks.append(b"")  # the empty final frame
    frames = []
    for i, chunk in enumerate(chunks):
        final = b"\x01" if i == len(chunks) - 1 else b"\x00"
        nonce = b"\x00" * 4 + struct.pack(">Q", i)
        frames.append(aead.encrypt(nonce, chunk, digest + struct.pack(">Q", i) + final))
    return head + b"".join(frames)


def build_v1(note: str) -> dict[str, Any]:
    """``{"v1-valid.json": ..., "v1-invalid.json": ...}``."""
    valid = _valid_cases()
    return {
        "v1-valid.json": {"format_version": VERSION, "note": note, "vectors": valid},
        "v1-invalid.json": {
            "format_version": VERSION,
            "note": note + " Every vector must fail with the one integrity error.",
            "vectors": _invalid_cases(valid),
        },
    }
