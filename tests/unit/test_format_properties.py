"""Hypothesis properties and fuzzing of the format (docs/FORMAT.md).

- round trip for any content, frame size and chunking of the input;
- every single-bit flip, every truncation, every frame reordering or duplication fails with
  the one IntegrityError (exhaustively for small documents, sampled for random ones);
- the parser, fed arbitrary bytes or mutated valid documents, only ever raises byok errors.
"""

from __future__ import annotations

import io
import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from byok.core.bound_context import BoundContext
from byok.core.format import MAX_FRAME_SIZE, MIN_FRAME_SIZE, parse_header
from byok.core.raw_keys import TenantKey
from byok.core.stream import (
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    iter_decrypt,
    iter_encrypt,
)
from byok.errors import ByokError, IntegrityError

TK = TenantKey("acme", "tk_1", bytes(range(32)))
SALT = bytes(32)
KB = 1024
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def enc(data: bytes, frame_size: int = KB) -> bytes:
    return bytes(encrypt_bytes(data, TK, "doc", frame_size=frame_size, salt=SALT))


def frames_of(ct: bytes) -> tuple[bytes, list[bytes]]:
    header = parse_header(ct)
    body, full = ct[header.size :], header.frame_size + 16
    return ct[: header.size], [body[i : i + full] for i in range(0, len(body), full)]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def fails_everywhere(ct: bytes | bytearray) -> None:
    """The same IntegrityError from the one-shot and the streaming decryptor."""
    with pytest.raises(IntegrityError):
        decrypt_bytes(ct, TK, "doc")
    with pytest.raises(IntegrityError):
        decrypt_stream(io.BytesIO(ct), io.BytesIO(), TK, "doc")


# -- round trip --------------------------------------------------------------------------------


@FAST
@given(
    data=st.binary(max_size=6 * KB),
    frame_size=st.integers(MIN_FRAME_SIZE, 3 * KB),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
def test_round_trip_any_content_frame_size_and_chunking(
    data: bytes, frame_size: int, cuts: list[int]
) -> None:
    ct = b"".join(iter_encrypt(chunked(data, cuts), TK, "doc", frame_size=frame_size, salt=SALT))
    assert ct == enc(data, frame_size)
    assert decrypt_bytes(ct, TK, "doc") == data
    assert b"".join(iter_decrypt(chunked(ct, cuts), TK, "doc")) == data


@settings(max_examples=10, deadline=None)
@given(
    frame_size=st.sampled_from([MIN_FRAME_SIZE, 64 * KB, MAX_FRAME_SIZE]), extra=st.integers(-1, 1)
)
def test_round_trip_at_frame_boundaries(frame_size: int, extra: int) -> None:
    data = os.urandom(max(0, 2 * frame_size + extra)) if frame_size < MAX_FRAME_SIZE else b"ab"
    assert decrypt_bytes(enc(data, frame_size), TK, "doc") == data


# -- tampering, exhaustive on small documents --------------------------------------------------

SMALL = enc(bytes(range(256)) * 9 + b"tail")  # 3 frames of 1 KiB, the last one short


def test_every_single_bit_flip_fails() -> None:
    for position in range(len(SMALL)):
        for bit in range(8):
            flipped = bytearray(SMALL)
            flipped[position] ^= 1 << bit
            with pytest.raises(IntegrityError):
                decrypt_bytes(flipped, TK, "doc")


def test_every_truncation_fails() -> None:
    for cut in range(len(SMALL)):
        with pytest.raises(IntegrityError):
            decrypt_bytes(SMALL[:cut], TK, "doc")
    for cut in range(0, len(SMALL), 37):  # the streaming reader too (sampled)
        with pytest.raises(IntegrityError):
            decrypt_stream(io.BytesIO(SMALL[:cut]), io.BytesIO(), TK, "doc")


def test_every_frame_reordering_and_duplication_fails() -> None:
    head, frames = frames_of(enc(os.urandom(3 * KB + 1)))  # 4 frames
    identity = tuple(range(len(frames)))
    for length in range(1, 6):
        for order in itertools.product(range(len(frames)), repeat=length):
            if order != identity:
                fails_everywhere(head + b"".join(frames[i] for i in order))


# -- tampering, sampled on random documents ----------------------------------------------------


@FAST
@given(data=st.binary(min_size=0, max_size=4 * KB), where=st.floats(0, 1), bit=st.integers(0, 7))
def test_random_bit_flip_fails(data: bytes, where: float, bit: int) -> None:
    ct = bytearray(enc(data))
    ct[min(int(where * len(ct)), len(ct) - 1)] ^= 1 << bit
    fails_everywhere(ct)


@FAST
@given(data=st.binary(max_size=4 * KB), where=st.floats(0, 1, exclude_max=True))
def test_random_truncation_fails(data: bytes, where: float) -> None:
    ct = enc(data)
    fails_everywhere(ct[: int(where * len(ct))])


@FAST
@given(data=st.binary(min_size=KB, max_size=5 * KB), picks=st.lists(st.integers(0, 5), min_size=1))
def test_random_frame_rearrangement_fails(data: bytes, picks: list[int]) -> None:
    head, frames = frames_of(enc(data))
    order = [p % len(frames) for p in picks]
    if order != list(range(len(frames))):
        fails_everywhere(head + b"".join(frames[i] for i in order))


@FAST
@given(a=st.binary(min_size=KB, max_size=3 * KB), b=st.binary(min_size=KB, max_size=3 * KB))
def test_splicing_frames_between_documents_fails(a: bytes, b: bytes) -> None:
    head_a, frames_a = frames_of(enc(a))
    _, frames_b = frames_of(bytes(encrypt_bytes(b, TK, "doc", frame_size=KB)))  # other salt
    fails_everywhere(head_a + frames_b[0] + b"".join(frames_a[1:]))


# -- fuzzing the parser ------------------------------------------------------------------------


def only_byok_errors(data: bytes | bytearray, chunks: list[bytes] | None = None) -> bytes | None:
    """Decrypt both ways; return the plaintext or None; any non-byok exception propagates."""
    try:
        one = bytes(decrypt_bytes(data, TK, "doc"))
    except ByokError as error:
        assert isinstance(error, IntegrityError)
        one = None
    try:
        two: bytes | None = b"".join(iter_decrypt(chunks or [bytes(data)], TK, "doc"))
    except ByokError as error:
        assert isinstance(error, IntegrityError)
        two = None
    assert one == two
    return one


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2 * KB))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    assert only_byok_errors(data) is None
    assert only_byok_errors(b"BYOK\x01\x01" + data) is None


VALID = enc(b"fuzz me" * 200)


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    out = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "insert", "delete", "dup"]))
        at = draw(st.integers(0, len(out)))
        blob = draw(st.binary(min_size=1, max_size=8))
        if kind == "set":
            out[at : at + len(blob)] = blob
        elif kind == "insert":
            out[at:at] = blob
        elif kind == "delete":
            del out[at : at + len(blob)]
        else:
            out[at:at] = out[max(0, at - 40) : at]
    return bytes(out)


@settings(max_examples=300, deadline=None)
@given(data=mutations(), cuts=st.lists(st.integers(0, 10**5), max_size=4))
def test_fuzz_mutated_valid_documents(data: bytes, cuts: list[int]) -> None:
    result = only_byok_errors(data, chunked(data, cuts))
    assert result is None or data == VALID  # only an unchanged document decrypts


@pytest.mark.slow
def test_64_mib_stream_round_trip() -> None:
    size, block = 64 * 1024 * 1024, os.urandom(1024 * 1024)

    def plaintext():  # type: ignore[no-untyped-def]
        for _ in range(size // len(block)):
            yield block

    class Check:
        offset = 0

        def write(self, data: bytes | bytearray | memoryview, /) -> None:
            n = len(data)
            assert bytes(data) == block[self.offset % len(block) : self.offset % len(block) + n]
            self.offset += n

    sink = Check()
    assert decrypt_stream(iter_encrypt(plaintext(), TK, "doc"), sink, TK, "doc") == size
    assert sink.offset == size


# -- v2 bound context (docs/FORMAT.md#bound-context) -------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
_KEY = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=16)
_EXTRA = st.dictionaries(
    _KEY.filter(lambda k: k not in ("tenant", "document", "write")), _TEXT, max_size=4
)


@FAST
@given(doc=_TEXT, write=st.none() | _TEXT, extra=_EXTRA, data=st.binary(max_size=3 * KB))
def test_round_trip_with_any_bound_context(
    doc: str, write: str | None, extra: dict[str, str], data: bytes
) -> None:
    context = BoundContext("acme", doc, write, extra)
    ct = bytes(encrypt_bytes(data, TK, context, frame_size=KB))
    assert parse_header(ct).context == context
    assert decrypt_bytes(ct, TK, context) == data
    assert b"".join(iter_decrypt(io.BytesIO(ct), TK, context)) == data


@FAST
@given(
    doc=_TEXT, write=st.none() | _TEXT, extra=_EXTRA,
    other_doc=_TEXT, other_write=st.none() | _TEXT, other_extra=_EXTRA,
)  # fmt: skip
def test_any_other_bound_context_fails(
    doc: str, write: str | None, extra: dict[str, str],
    other_doc: str, other_write: str | None, other_extra: dict[str, str],
) -> None:  # fmt: skip
    context = BoundContext("acme", doc, write, extra)
    other = BoundContext("acme", other_doc, other_write, other_extra)
    ct = bytes(encrypt_bytes(b"payload", TK, context, frame_size=KB))
    if other != context:  # a rolled-back write id, a moved document, a changed scope ...
        with pytest.raises(IntegrityError):
            decrypt_bytes(ct, TK, other)
        with pytest.raises(IntegrityError):
            decrypt_stream(io.BytesIO(ct), io.BytesIO(), TK, other)


@FAST
@given(data=st.binary(max_size=2 * KB), where=st.floats(0, 1), bit=st.integers(0, 7))
def test_random_bit_flip_in_a_write_bound_document_fails(
    data: bytes, where: float, bit: int
) -> None:
    context = BoundContext("acme", "doc", "w_1", {"scope": "s"})
    ct = bytearray(encrypt_bytes(data, TK, context, frame_size=KB, salt=SALT))
    ct[int(where * (len(ct) - 1))] ^= 1 << bit
    with pytest.raises(IntegrityError):
        decrypt_bytes(ct, TK, context)
