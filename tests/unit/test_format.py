"""Document format v1 (docs/FORMAT.md): round trips, layout, limits, tamper detection, I/O."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from byok.core import format as fmt
from byok.core.bound_context import BoundContext
from byok.core.raw_keys import DocumentKey, TenantKey, derive_document_key, document_key_info
from byok.core.stream import (
    ciphertext_length,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
    iter_decrypt,
    iter_encrypt,
)
from byok.errors import IntegrityError, InvalidInput

KB = 1024
TK = TenantKey("acme", "tk_1", bytes(range(32)))
SALT = bytes(range(100, 132))


def enc(
    data: bytes, frame_size: int = KB, doc: str | BoundContext = "doc-1", key: TenantKey = TK
) -> bytes:
    return bytes(encrypt_bytes(data, key, doc, frame_size=frame_size, salt=SALT))


def frames_of(ct: bytes) -> tuple[bytes, list[bytes]]:
    header = fmt.parse_header(ct)
    body, full = ct[header.size :], header.frame_size + 16
    return ct[: header.size], [body[i : i + full] for i in range(0, len(body), full)]


# -- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, KB - 1, KB, KB + 1, 3 * KB, 5 * KB + 7])
def test_round_trip_every_api(size: int) -> None:
    data = os.urandom(size)
    ct = enc(data)
    assert len(ct) == ciphertext_length(size, fmt.parse_header(ct).size, KB)
    assert decrypt_bytes(ct, TK, "doc-1") == data
    sink = io.BytesIO()
    assert decrypt_stream(io.BytesIO(ct), sink, TK, "doc-1") == size
    assert sink.getvalue() == data
    assert b"".join(iter_decrypt([ct[:5], ct[5:]], TK, "doc-1")) == data
    streamed = io.BytesIO()
    assert encrypt_stream(io.BytesIO(data), streamed, TK, "doc-1", frame_size=KB, salt=SALT) == size
    assert streamed.getvalue() == ct
    assert b"".join(iter_encrypt(iter([data]), TK, "doc-1", frame_size=KB, salt=SALT)) == ct


def test_default_frame_size_and_fresh_salt_per_document() -> None:
    a = encrypt_bytes(b"same", TK, "doc-1")
    b = encrypt_bytes(b"same", TK, "doc-1")
    assert fmt.parse_header(a).frame_size == fmt.DEFAULT_FRAME_SIZE == 256 * 1024
    assert fmt.parse_header(a).salt != fmt.parse_header(b).salt
    assert a != b


def test_frame_layout_full_frames_then_short_final_frame() -> None:
    _, frames = frames_of(enc(os.urandom(2 * KB)))  # exact multiple: empty final frame
    assert [len(f) for f in frames] == [KB + 16, KB + 16, 16]
    _, frames = frames_of(enc(b""))
    assert [len(f) for f in frames] == [16]
    _, frames = frames_of(enc(os.urandom(KB + 5)))
    assert [len(f) for f in frames] == [KB + 16, 5 + 16]


def test_header_layout_matches_spec() -> None:
    ct = enc(b"hello")
    h = fmt.parse_header(ct)
    assert ct[:4] == b"BYOK" and ct[4] == 2 and ct[5] == 2
    assert struct.unpack(">I", ct[6:10])[0] == KB
    assert ct[10:12] == b"\x00\x04" and ct[12:16] == b"tk_1"
    # docs/FORMAT.md#bound-context: u16(count), then pairs sorted by key.
    context = b"\x00\x02" + b"\x00\x08document\x00\x05doc-1" + b"\x00\x06tenant\x00\x04acme"
    assert ct[16 : 16 + len(context)] == context
    assert ct[16 + len(context) : 16 + len(context) + 32] == SALT
    assert (h.tenant, h.document_id, h.tk_id, h.salt) == ("acme", "doc-1", "tk_1", SALT)
    assert h.size == 10 + (2 + 4) + len(context) + 32 + 32
    assert "body" not in repr(h)


def test_independent_reimplementation_of_the_spec_decrypts() -> None:
    """Decrypt with only cryptography primitives and docs/FORMAT.md, not byok's code."""
    data = os.urandom(2 * KB + 100)
    ct = enc(data)
    h = fmt.parse_header(ct)
    # docs/FORMAT.md#document-key: info = label ‖ every header byte before the salt.
    info = b"byok/v2/document" + ct[: h.size - 64]
    okm = HKDF(hashes.SHA256(), 64, SALT, info).derive(TK.material)
    assert okm[32:] == h.commitment == ct[h.size - 32 : h.size]
    aead = AESGCM(okm[:32])
    _, frames = frames_of(ct)
    out = b""
    for i, frame in enumerate(frames):
        final = b"\x01" if i == len(frames) - 1 else b"\x00"
        out += aead.decrypt(b"\x00" * 4 + i.to_bytes(8, "big"), frame, final)
    assert out == data


def test_derivation_binds_every_id_unambiguously() -> None:
    infos = {
        document_key_info(1, 1, t, d, k)
        for t, d, k in [(b"ab", b"c", b"k"), (b"a", b"bc", b"k"), (b"a", b"b", b"ck")]
    }
    assert len(infos) == 3
    keys = derive_document_key(TK.material, SALT, document_key_info(1, 1, b"a", b"b", b"c"))
    assert isinstance(keys, DocumentKey) and len(keys.key) == len(keys.commitment) == 32
    assert keys.key.hex() not in repr(keys)


# -- tampering: one opaque error ---------------------------------------------------------------


def _tampered(kind: str) -> tuple[bytes, TenantKey, str | BoundContext]:
    data = os.urandom(3 * KB + 10)
    ct = enc(data)
    head, frames = frames_of(ct)
    other_head, other_frames = frames_of(enc(data, doc="doc-2"))
    variants: dict[str, tuple[bytes, TenantKey, str | BoundContext]] = {
        "truncate_final_frame": (head + b"".join(frames[:-1]), TK, "doc-1"),
        "truncate_mid_frame": (ct[:-5], TK, "doc-1"),
        "truncate_header": (ct[: len(head) - 1], TK, "doc-1"),
        "swap_frames": (head + frames[1] + frames[0] + b"".join(frames[2:]), TK, "doc-1"),
        "duplicate_frame": (head + frames[0] + b"".join(frames), TK, "doc-1"),
        "drop_middle_frame": (head + frames[0] + b"".join(frames[2:]), TK, "doc-1"),
        "splice_other_document": (head + other_frames[0] + b"".join(frames[1:]), TK, "doc-1"),
        "other_header": (other_head + b"".join(frames), TK, "doc-1"),
        "trailing_data": (ct + b"\x00", TK, "doc-1"),
        "wrong_document_id": (ct, TK, "doc-2"),
        "wrong_tenant": (ct, TenantKey("evil", "tk_1", TK.material), "doc-1"),
        "wrong_tk_id": (ct, TenantKey("acme", "tk_2", TK.material), "doc-1"),
        "wrong_key": (ct, TenantKey("acme", "tk_1", bytes(32)), "doc-1"),
        "frame_size_edit": (ct[:9] + b"\x01" + ct[10:], TK, "doc-1"),
        "salt_edit": (_flip(ct, len(head) - 50), TK, "doc-1"),
        "commitment_edit": (_flip(ct, len(head) - 1), TK, "doc-1"),
        "context_edit": (_flip(ct, 34), TK, "doc-1"),  # a byte of the document id
        "context_extra_pair": (enc(data, doc=BoundContext("acme", "doc-1", "w1")), TK, "doc-1"),
        "context_missing_write": (ct, TK, BoundContext("acme", "doc-1", "w1")),
        "other_write_id": (
            enc(data, doc=BoundContext("acme", "doc-1", "w1")),
            TK,
            BoundContext("acme", "doc-1", "w2"),
        ),
        "bad_magic": (b"XYOK" + ct[4:], TK, "doc-1"),
        "bad_version": (ct[:4] + b"\x03" + ct[5:], TK, "doc-1"),
        "v1_algorithm_in_v2": (ct[:5] + b"\x01" + ct[6:], TK, "doc-1"),
        "empty_input": (b"", TK, "doc-1"),
    }
    return variants[kind]


def _flip(data: bytes, position: int) -> bytes:
    out = bytearray(data)
    out[position] ^= 0x01
    return bytes(out)


TAMPER_KINDS = [
    "truncate_final_frame",
    "truncate_mid_frame",
    "truncate_header",
    "swap_frames",
    "duplicate_frame",
    "drop_middle_frame",
    "splice_other_document",
    "other_header",
    "trailing_data",
    "wrong_document_id",
    "wrong_tenant",
    "wrong_tk_id",
    "wrong_key",
    "frame_size_edit",
    "salt_edit",
    "commitment_edit",
    "context_edit",
    "context_extra_pair",
    "context_missing_write",
    "other_write_id",
    "bad_magic",
    "bad_version",
    "v1_algorithm_in_v2",
    "empty_input",
]


@pytest.mark.parametrize("kind", TAMPER_KINDS)
def test_every_tamper_kind_is_the_same_opaque_integrity_error(kind: str) -> None:
    ct, key, doc = _tampered(kind)
    with pytest.raises(IntegrityError) as one_shot:
        decrypt_bytes(ct, key, doc)
    with pytest.raises(IntegrityError) as streamed:
        decrypt_stream(io.BytesIO(ct), io.BytesIO(), key, doc)
    with pytest.raises(IntegrityError):
        b"".join(iter_decrypt(io.BytesIO(ct), key, doc))
    assert str(one_shot.value) == str(streamed.value) == str(IntegrityError())
    error = one_shot.value  # no chained cryptography exception says which check failed
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_streaming_decrypt_never_releases_an_unverified_frame() -> None:
    data = os.urandom(3 * KB)
    head, frames = frames_of(enc(data))
    bad = head + frames[0] + _flip(frames[1], 3) + b"".join(frames[2:])
    sink = io.BytesIO()
    with pytest.raises(IntegrityError):
        decrypt_stream(io.BytesIO(bad), sink, TK, "doc-1")
    assert sink.getvalue() == data[:KB]  # only frame 0, verified, was written
    chunks = iter_decrypt(io.BytesIO(bad), TK, "doc-1")
    assert next(chunks) == data[:KB]
    with pytest.raises(IntegrityError):
        next(chunks)


def test_iter_decrypt_checks_header_before_returning() -> None:
    with pytest.raises(IntegrityError):
        iter_decrypt(io.BytesIO(enc(b"x")), TK, "doc-2")


# -- limits and parameters ---------------------------------------------------------------------


def test_length_fields_are_bounded_before_reading() -> None:
    ct = enc(b"abc")
    too_long_id = ct[:10] + b"\x01\x01" + ct[12:]  # tenant length 257
    zero_id = ct[:10] + b"\x00\x00" + ct[12:]
    small_frames = ct[:6] + struct.pack(">I", 1023) + ct[10:]
    huge_frames = ct[:6] + struct.pack(">I", 16 * 1024 * 1024 + 1) + ct[10:]
    for bad in (too_long_id, zero_id, small_frames, huge_frames, ct[:11]):
        with pytest.raises(IntegrityError):
            fmt.parse_header(bad)


def test_header_never_reads_past_max_header_bytes() -> None:
    longest = TenantKey("t" * 256, "k" * 256, TK.material)
    context = BoundContext("t" * 256, "d" * 4096, "w" * 4096)
    with pytest.raises(InvalidInput) as too_long:  # over the header cap: refused when writing
        encrypt_bytes(b"", longest, context, salt=SALT)
    assert too_long.value.field == "context"
    ct = encrypt_bytes(b"", longest, BoundContext("t" * 256, "d" * 4096, "w" * 3000), salt=SALT)
    assert fmt.parse_header(ct).size <= fmt.MAX_HEADER_BYTES == 8192
    huge = bytearray(ct)
    huge[268:270] = b"\x00\x11"  # after the 256-byte TK id: 17 pairs, refused at once
    with pytest.raises(IntegrityError):
        fmt.parse_header(huge)


def test_non_utf8_id_is_an_integrity_error() -> None:
    ct = bytearray(enc(b"abc"))
    ct[12] = 0xFF
    with pytest.raises(IntegrityError):
        fmt.parse_header(ct)


@pytest.mark.parametrize("frame_size", [0, 1023, 16 * 1024 * 1024 + 1, True, 1024.0])
def test_bad_frame_size_is_invalid_input(frame_size: object) -> None:
    with pytest.raises(InvalidInput) as err:
        encrypt_bytes(b"x", TK, "d", frame_size=frame_size)
    assert err.value.field == "frame_size"


@pytest.mark.parametrize(
    ("doc", "field"), [("", "document_id"), ("x" * 4097, "document_id"), ("\ud800", "document_id")]
)
def test_bad_ids_are_invalid_input(doc: str, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        encrypt_bytes(b"x", TK, doc)
    assert err.value.field == field
    with pytest.raises(InvalidInput):
        decrypt_bytes(enc(b"x"), TK, doc)


def test_bad_tenant_key_and_salt_are_invalid_input() -> None:
    with pytest.raises(InvalidInput) as err:
        TenantKey("acme", "tk", b"short")
    assert err.value.field == "tenant_key"
    with pytest.raises(InvalidInput) as err:
        TenantKey("", "tk", bytes(32))
    assert err.value.field == "tenant"
    with pytest.raises(InvalidInput) as err:
        encrypt_bytes(b"x", TK, "d", salt=b"short")
    assert err.value.field == "salt"


def test_plaintext_key_never_in_repr() -> None:
    key = TenantKey("acme", "tk_9", bytes([0xAB]) * 32)
    assert "ab" * 4 not in repr(key).lower() and "tk_9" in repr(key)


# -- I/O adapters ------------------------------------------------------------------------------


class ReadOnly:
    """A source with read() only, returning short reads."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._buf.read(min(size, 100))


class PartialWriter:
    """A raw sink that writes at most 7 bytes per call (like io.RawIOBase)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        chunk = bytes(data[:7])
        self.data += chunk
        return len(chunk)


def test_sources_and_sinks_of_every_kind() -> None:
    data = os.urandom(2 * KB + 3)
    ct = enc(data)
    sink = PartialWriter()
    decrypt_stream(ReadOnly(ct), sink, TK, "doc-1")
    assert bytes(sink.data) == data
    chunks: Iterator[bytes] = (ct[i : i + 13] for i in range(0, len(ct), 13))
    assert decrypt_bytes(b"".join(chunks), TK, "doc-1") == data
    assert b"".join(iter_decrypt(memoryview(ct), TK, "doc-1")) == data
    assert b"".join(iter_decrypt(io.BufferedReader(io.BytesIO(ct), 5), TK, "doc-1")) == data
    with pytest.raises(InvalidInput):
        decrypt_stream(object(), io.BytesIO(), TK, "doc-1")
    with pytest.raises(InvalidInput):
        decrypt_stream(ct, object(), TK, "doc-1")


def test_streaming_memory_is_bounded_by_the_frame_size() -> None:
    frame, total = 64 * KB, 16 * 1024 * 1024

    def plaintext() -> Iterator[bytes]:
        block = bytes(256 * KB)
        for _ in range(total // len(block)):
            yield block

    class Discard:
        n = 0

        def write(self, data: bytes | bytearray | memoryview, /) -> None:
            self.n += len(data)

    class Loop:
        """Feeds the ciphertext of encrypt_stream straight into decrypt_stream."""

        def __init__(self) -> None:
            self.ct = iter_encrypt(plaintext(), TK, "big", frame_size=frame)

        def __iter__(self) -> Iterator[bytes]:
            return self.ct

    tracemalloc.start()
    try:
        sink = Discard()
        decrypt_stream(Loop(), sink, TK, "big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.n == total
    assert peak < 256 * KB + 8 * frame  # input block + a few frames, not the 16 MiB


def test_frame_count_limit_is_enforced_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    import byok.core.stream as stream

    four_frames = enc(os.urandom(3 * KB + 1))
    monkeypatch.setattr(stream, "MAX_FRAMES", 3)  # docs/FORMAT.md#limits, scaled down
    with pytest.raises(InvalidInput) as err:
        encrypt_bytes(os.urandom(3 * KB), TK, "doc-1", frame_size=KB)
    assert err.value.field == "plaintext"
    with pytest.raises(InvalidInput):
        encrypt_stream(io.BytesIO(os.urandom(3 * KB)), io.BytesIO(), TK, "d", frame_size=KB)
    assert decrypt_bytes(enc(os.urandom(2 * KB - 1)), TK, "doc-1")  # 2 frames: fine
    with pytest.raises(IntegrityError):
        decrypt_bytes(four_frames, TK, "doc-1")
    with pytest.raises(IntegrityError):
        decrypt_stream(io.BytesIO(four_frames), io.BytesIO(), TK, "doc-1")


def test_misbehaving_sources_are_invalid_input() -> None:
    class NonBlocking(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: object) -> None:  # type: ignore[override]
            return None

    class Greedy:
        def read(self, size: int = -1, /) -> bytes:
            return b"x" * (size + 1)

    for source in (NonBlocking(), Greedy(), "text", [b"ok", 5]):
        with pytest.raises(InvalidInput) as err:
            encrypt_stream(source, io.BytesIO(), TK, "d")
        assert err.value.field == "source"
