"""Encrypt and decrypt documents: streaming (constant memory) and one-shot.

Wire format: ``docs/FORMAT.md``. Sources are binary file-likes (``readinto`` or ``read``),
bytes-like objects or iterables of bytes-like chunks; sinks are anything with ``write``.
Working memory is about two frames (``docs/FORMAT.md#streaming``), whatever the document size:
frames are sealed and opened into preallocated buffers with ``AESGCM.encrypt_into`` /
``decrypt_into``.

Streaming decryption releases a frame's plaintext only after its tag verified, **but a consumer
may already have received earlier verified frames when a later frame fails** (a truncated or
spliced tail): only a stream that ends without an exception is the complete document
(``docs/FORMAT.md#streaming``). The one-shot helpers return nothing on failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from byok.core.bound_context import BoundContext
from byok.core.cipher import DocumentCipher, Expected
from byok.core.format import (
    DEFAULT_FRAME_SIZE,
    MAX_FRAMES,
    TAG_BYTES,
    Header,
    integrity_error,
    parse_header,
)
from byok.core.raw_keys import SALT_BYTES, TenantKey
from byok.core.sources import Buffer, Readable, Reader, Source, Writable, byte_view, writer
from byok.errors import InvalidInput

__all__ = [
    "BoundContext",
    "Buffer",
    "Decryption",
    "Expected",
    "KeyLookup",
    "Readable",
    "Rng",
    "Source",
    "Writable",
    "ciphertext_length",
    "decrypt_bytes",
    "decrypt_stream",
    "encrypt_bytes",
    "encrypt_stream",
    "iter_decrypt",
    "iter_encrypt",
]

#: How a decryptor finds the tenant key named by a parsed header (raises if there is none).
KeyLookup = Callable[[Header], TenantKey]
Rng = Callable[[int], bytes]


def _new_cipher(
    tenant_key: TenantKey, document_id: Expected, frame_size: int, salt: bytes | None, rng: Rng
) -> DocumentCipher:
    if salt is None:
        salt = rng(SALT_BYTES)  # docs/FORMAT.md#document-key: fresh salt per document
    return DocumentCipher.for_writing(tenant_key, document_id, frame_size, salt)


def _seal_frames(
    reader: Reader, cipher: DocumentCipher, reuse: bool
) -> Iterator[memoryview | bytes]:
    """docs/FORMAT.md#frames: full frames of F bytes, then a final frame of 0..F-1 bytes."""
    size = cipher.frame_size
    inv = memoryview(bytearray(size))
    outv = memoryview(bytearray(size + TAG_BYTES)) if reuse else None
    index = 0
    while True:
        n = reader.fill(inv)
        final = n < size
        if not final and index == MAX_FRAMES - 1:  # docs/FORMAT.md#limits: frame count
            raise InvalidInput("plaintext", "is too long for this frame size")
        if outv is None:
            yield cipher.seal(index, final, inv[:n])
        else:
            cipher.seal_into(index, final, inv[:n], outv[: n + TAG_BYTES])
            yield outv[: n + TAG_BYTES]
        if final:
            return
        index += 1


def _open_frames(
    reader: Reader, cipher: DocumentCipher, reuse: bool
) -> Iterator[memoryview | bytes]:
    """docs/FORMAT.md#decryption step 6: verify each frame before releasing its plaintext."""
    full = cipher.frame_size + TAG_BYTES
    inv = memoryview(bytearray(full))
    outv = memoryview(bytearray(cipher.frame_size)) if reuse else None
    index = 0
    while True:
        n = reader.fill(inv)
        if n < TAG_BYTES:  # end of input after a full frame, or a torn tag: truncated
            raise integrity_error()
        final = n < full  # the only short frame is the final one, and it ends the input
        if not final and index == MAX_FRAMES - 1:
            raise integrity_error()
        if outv is None:
            yield cipher.open(index, final, inv[:n])
        else:
            cipher.open_into(index, final, inv[:n], outv[: n - TAG_BYTES])
            yield outv[: n - TAG_BYTES]
        if final:
            return
        index += 1


def _resolve(
    header: Header, tenant_key: TenantKey | KeyLookup, document_id: Expected
) -> DocumentCipher:
    key = tenant_key if isinstance(tenant_key, TenantKey) else tenant_key(header)
    return DocumentCipher.for_reading(header, key, document_id)


def encrypt_stream(
    source: Source,
    sink: Writable,
    tenant_key: TenantKey,
    document_id: Expected,
    *,
    frame_size: int = DEFAULT_FRAME_SIZE,
    salt: bytes | None = None,
    rng: Rng = os.urandom,
) -> int:
    """Encrypt ``source`` into ``sink`` in constant memory (about two frames).

    Args:
        source: plaintext (file-like, bytes-like or iterable of bytes-like chunks).
        sink: receives the header, then each frame as soon as it is sealed.
        tenant_key: the TK (its tenant and TK id go into the header).
        document_id: the document id, or the whole :class:`BoundContext` (tenant, document,
            write id, ...), bound into the key derivation and header.
        frame_size: ``F`` (docs/FORMAT.md#frame-size).
        salt: the 32-byte salt; only for test vectors. Default: ``rng(32)``.
        rng: randomness source for the salt.

    Returns:
        The number of plaintext bytes encrypted.

    Raises:
        InvalidInput: a malformed id, frame size, salt, source or sink, or a plaintext longer
            than the format allows.
    """
    write = writer(sink)
    cipher = _new_cipher(tenant_key, document_id, frame_size, salt, rng)
    write(cipher.header_bytes)
    total = 0
    for frame in _seal_frames(Reader(source), cipher, reuse=True):
        write(frame)
        total += len(frame) - TAG_BYTES
    return total


def iter_encrypt(
    source: Source,
    tenant_key: TenantKey,
    document_id: Expected,
    *,
    frame_size: int = DEFAULT_FRAME_SIZE,
    salt: bytes | None = None,
    rng: Rng = os.urandom,
) -> Iterator[bytes]:
    """Encrypt ``source`` lazily: yields the header, then one ``bytes`` per frame.

    Parameters as :func:`encrypt_stream`. The header is built (and parameters checked)
    before this returns.

    Returns:
        An iterator of ciphertext chunks.

    Raises:
        InvalidInput: as :func:`encrypt_stream` (a too-long plaintext while iterating).
    """
    reader = Reader(source)
    cipher = _new_cipher(tenant_key, document_id, frame_size, salt, rng)

    def chunks() -> Iterator[bytes]:
        yield cipher.header_bytes
        for frame in _seal_frames(reader, cipher, reuse=False):
            yield bytes(frame)  # already bytes: a new object per frame, no copy

    return chunks()


def decrypt_stream(
    source: Source, sink: Writable, tenant_key: TenantKey | KeyLookup, document_id: Expected
) -> int:
    """Decrypt ``source`` into ``sink`` in constant memory, writing only verified frames.

    Args:
        source: the encrypted document.
        sink: receives each frame's plaintext once the frame verified.
        tenant_key: the TK, or a :data:`KeyLookup` given the parsed header (its tenant must be
            the expected tenant: docs/FORMAT.md#decryption step 3).
        document_id: the expected document id (nothing else bound), or the whole expected
            :class:`BoundContext`.

    Returns:
        The number of plaintext bytes written.

    Raises:
        IntegrityError: any integrity failure, possibly after earlier verified frames were
            written (see the module docstring).
        InvalidInput: ``document_id``, ``source`` or ``sink`` is malformed.
    """
    write = writer(sink)
    reader = Reader(source)
    cipher = _resolve(reader.read_header(), tenant_key, document_id)
    total = 0
    for chunk in _open_frames(reader, cipher, reuse=True):
        write(chunk)
        total += len(chunk)
    return total


def iter_decrypt(
    source: Source, tenant_key: TenantKey | KeyLookup, document_id: Expected
) -> Decryption:
    """Decrypt lazily: yields each frame's verified plaintext as ``bytes``.

    The header is read and verified before this returns (so a wrong key or id fails here);
    frames are read as the iterator is consumed. An exception while iterating means the
    document is not authentic even if earlier chunks were yielded (module docstring).

    Returns:
        A :class:`Decryption`: an iterator of plaintext chunks (empty chunks are skipped) that
        also carries the parsed header.

    Raises:
        IntegrityError: on the call (header) or while iterating (frames).
        InvalidInput: ``document_id`` or ``source`` is malformed.
    """
    reader = Reader(source)
    header = reader.read_header()
    cipher = _resolve(header, tenant_key, document_id)

    def chunks() -> Iterator[bytes]:
        for chunk in _open_frames(reader, cipher, reuse=False):
            if chunk:
                yield bytes(chunk)

    return Decryption(header, chunks())


class Decryption(Iterator[bytes]):
    """What :func:`iter_decrypt` returns: verified plaintext chunks, and the parsed header."""

    __slots__ = ("_chunks", "header")

    def __init__(self, header: Header, chunks: Iterator[bytes]) -> None:
        self.header = header
        self._chunks = chunks

    def __next__(self) -> bytes:
        return next(self._chunks)

    def plaintext_length(self, ciphertext_length: int) -> int | None:
        """The plaintext length of a ``ciphertext_length``-byte document with this header.

        Returns:
            The length (docs/FORMAT.md#frames), or None if no valid document has that size.
        """
        full = self.header.frame_size + TAG_BYTES
        frames, last = divmod(ciphertext_length - self.header.size, full)
        if ciphertext_length < self.header.size or last < TAG_BYTES:
            return None
        return frames * self.header.frame_size + last - TAG_BYTES


def ciphertext_length(plaintext_length: int, header_length: int, frame_size: int) -> int:
    """The encrypted size of a plaintext (docs/FORMAT.md#frames).

    Returns:
        ``header_length + plaintext_length + 16 * (plaintext_length // frame_size + 1)``.
    """
    return header_length + plaintext_length + TAG_BYTES * (plaintext_length // frame_size + 1)


def encrypt_bytes(
    plaintext: Buffer,
    tenant_key: TenantKey,
    document_id: Expected,
    *,
    frame_size: int = DEFAULT_FRAME_SIZE,
    salt: bytes | None = None,
    rng: Rng = os.urandom,
) -> bytearray:
    """Encrypt a whole plaintext at once, sealing every frame in place in one output buffer.

    Parameters as :func:`encrypt_stream`.

    Returns:
        The encrypted document, as a new ``bytearray`` (no final copy into ``bytes``: call
        ``bytes()`` on it if an immutable object is needed).

    Raises:
        InvalidInput: as :func:`encrypt_stream`, or ``plaintext`` is not bytes-like.
    """
    view = byte_view(plaintext, "plaintext")
    if salt is None:  # _new_cipher, inlined: this runs for every document
        salt = rng(SALT_BYTES)
    cipher = DocumentCipher.for_writing(tenant_key, document_id, frame_size, salt)
    if len(view) < frame_size:  # one final frame: most documents, so the short way
        out = bytearray(cipher.header_bytes)
        out += cipher.seal(0, True, view)
        return out
    frames = len(view) // frame_size + 1
    if frames > MAX_FRAMES:
        raise InvalidInput("plaintext", "is too long for this frame size")
    head = cipher.header_bytes
    out = bytearray(ciphertext_length(len(view), len(head), frame_size))
    out[: len(head)] = head
    outv = memoryview(out)
    last = frames - 1
    src, dst = 0, len(head)
    for index in range(frames):  # seal in place: no copy of the document
        n = frame_size if index < last else len(view) - src
        cipher.seal_into(index, index == last, view[src : src + n], outv[dst : dst + n + TAG_BYTES])
        src, dst = src + n, dst + n + TAG_BYTES
    return out


def decrypt_bytes(
    ciphertext: Buffer, tenant_key: TenantKey | KeyLookup, document_id: Expected
) -> bytearray:
    """Decrypt a whole document at once; nothing is returned unless every frame verified.

    Args:
        ciphertext: the encrypted document.
        tenant_key: the TK, or a :data:`KeyLookup` (as :func:`decrypt_stream`).
        document_id: the expected document id (nothing else bound), or the whole expected
            :class:`BoundContext`.

    Returns:
        The plaintext as a new ``bytearray``.

    Raises:
        IntegrityError: any integrity failure.
        InvalidInput: ``document_id`` or ``ciphertext`` is malformed.
    """
    view = byte_view(ciphertext, "ciphertext")
    header = parse_header(view)
    key = tenant_key if isinstance(tenant_key, TenantKey) else tenant_key(header)  # _resolve
    cipher = DocumentCipher.for_reading(header, key, document_id)
    full = header.frame_size + TAG_BYTES
    body = view[header.size :]
    if TAG_BYTES <= len(body) < full:  # one final frame: most documents, so the short way
        return bytearray(cipher.open(0, True, body))
    frames, last = divmod(len(body), full)
    # docs/FORMAT.md#frames: the final frame is 16..F+15 bytes and nothing follows it.
    if last < TAG_BYTES or frames >= MAX_FRAMES:
        raise integrity_error()
    out = bytearray(frames * header.frame_size + last - TAG_BYTES)
    outv = memoryview(out)
    src = dst = 0
    for index in range(frames + 1):
        n = full if index < frames else last
        cipher.open_into(index, index == frames, body[src : src + n], outv[dst : dst + n - 16])
        src, dst = src + n, dst + n - TAG_BYTES
    return out
