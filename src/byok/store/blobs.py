"""The blob seam: where document bytes (already encrypted) live.

:class:`BlobStore` is the one interface every blob backend implements, and the one shared
test suite (``tests/store/test_blobs.py``) every backend must pass. Two backends ship:
:class:`FilesystemBlobStore` here (the default) and :class:`byok.store.s3.S3BlobStore`.

Rules every backend keeps:

* ``put`` chooses a fresh random key and never overwrites an existing blob, so a reader
  holding a key always gets the bytes that were written under it, or :class:`NotFound`.
* A blob appears under its key only complete: a crash mid-write leaves at most an
  *incomplete write* (a temporary file, an unfinished multipart upload) that ``list``
  never shows and :meth:`BlobStore.sweep_incomplete` removes.
* Keys are ``/``-separated segments of ``[A-Za-z0-9._-]`` that do not start with ``.``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from byok.errors import InvalidInput, NotFound, StorageError
from byok.private_files import DIR_MODE, make_private_dir

__all__ = [
    "CHUNK_SIZE",
    "BlobInfo",
    "BlobListing",
    "BlobStore",
    "ByteSource",
    "FilesystemBlobStore",
    "HashingCounter",
    "iter_chunks",
    "new_blob_key",
    "validate_blob_key",
]

CHUNK_SIZE = 1024 * 1024
MAX_KEY_LENGTH = 512
TEMP_PREFIX = ".tmp-"
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")

#: What ``put`` accepts: bytes, a binary file-like object, or an iterable of byte chunks.
ByteSource = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]


@dataclass(frozen=True)
class BlobInfo:
    """A blob that ``put`` wrote: its key, size and SHA-256 (hex) of its bytes."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BlobListing:
    """One entry of :meth:`BlobStore.list`: key, size, and when it was last written (UTC)."""

    key: str
    size: int
    modified: datetime


@runtime_checkable
class BlobStore(Protocol):
    """Stores immutable blobs under keys it chooses."""

    def put(self, body: ByteSource, *, prefix: str = "") -> BlobInfo:
        """Write ``body`` (any size, streamed) under a new key beginning with ``prefix``.

        Returns the :class:`BlobInfo`. Raises :class:`StorageError` (nothing is visible).
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """Return a readable stream of the blob (close it). Raises :class:`NotFound`."""
        ...

    def delete(self, key: str) -> None:
        """Delete the blob; deleting a missing key is not an error. Raises StorageError."""
        ...

    def exists(self, key: str) -> bool:
        """Return whether the blob exists. Raises :class:`StorageError`."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobListing]:
        """Yield every complete blob whose key starts with ``prefix`` (any order)."""
        ...

    def sweep_incomplete(self, older_than: datetime) -> int:
        """Remove incomplete writes started before ``older_than``; return how many."""
        ...


def validate_blob_key(key: str, *, field: str = "key") -> str:
    """Return ``key`` if it is a well-formed blob key.

    Raises:
        InvalidInput: naming ``field`` otherwise.
    """
    segments = key.split("/")
    if len(key) > MAX_KEY_LENGTH or not all(_SEGMENT.match(s) for s in segments):
        raise InvalidInput(field, "is not a blob key", fix="Use keys that put() returned.")
    return key


def new_blob_key(prefix: str = "", *, token: Callable[[], str] | None = None) -> str:
    """Return a fresh random key ``<prefix><2 hex>/<32 hex>`` (the 2 fan out directories).

    Raises:
        InvalidInput: when ``prefix`` is not empty and does not end in a key segment + ``/``.
    """
    random_part = token() if token is not None else secrets.token_hex(16)
    key = f"{prefix}{random_part[:2]}/{random_part}"
    return validate_blob_key(key, field="prefix")


def iter_chunks(body: ByteSource, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield ``body`` as non-empty byte chunks, reading file-likes ``chunk_size`` at a time."""
    if isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
        return
    read = getattr(body, "read", None)
    if read is not None:
        while chunk := read(chunk_size):
            yield chunk
        return
    for chunk in body:
        if chunk:
            yield bytes(chunk)


class HashingCounter:
    """Counts and SHA-256-hashes bytes as they stream past."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> bytes:
        """Account for ``chunk`` and return it unchanged."""
        self._digest.update(chunk)
        self.size += len(chunk)
        return chunk

    def info(self, key: str) -> BlobInfo:
        """Return the :class:`BlobInfo` for ``key`` with the bytes seen so far."""
        return BlobInfo(key=key, size=self.size, sha256=self._digest.hexdigest())


class FilesystemBlobStore:
    """Blobs as files under ``root`` (the default backend).

    A put writes a temporary file in the blob's own directory, fsyncs it, links it into
    place (``link`` fails rather than overwrite) and fsyncs the directory, so after a crash
    the blob is either complete under its key or absent (leaving at most a ``.tmp-`` file).
    """

    def __init__(self, root: str | os.PathLike[str], *, token: Callable[[], str] | None = None):
        self.root = Path(root)
        self._token = token
        make_private_dir(self.root)

    def put(self, body: ByteSource, *, prefix: str = "") -> BlobInfo:
        """See :meth:`BlobStore.put`."""
        key = new_blob_key(prefix, token=self._token)
        path = self._path(key)
        try:
            _make_dirs(path.parent, self.root)
            counter, temporary = self._write_temporary(body, path.parent)
            _publish(temporary, path)
            _fsync_directory(path.parent)
        except OSError as exc:
            raise StorageError(
                f"could not write blob: {exc.strerror}", operation="blob:put"
            ) from exc
        return counter.info(key)

    def _write_temporary(self, body: ByteSource, directory: Path) -> tuple[HashingCounter, Path]:
        counter = HashingCounter()
        temporary = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                for chunk in iter_chunks(body):
                    handle.write(counter.update(chunk))
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return counter, temporary

    def open(self, key: str) -> BinaryIO:
        """See :meth:`BlobStore.open`."""
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFound("no such blob", operation="blob:get") from None
        except OSError as exc:
            raise StorageError(
                f"could not read blob: {exc.strerror}", operation="blob:get"
            ) from exc

    def delete(self, key: str) -> None:
        """See :meth:`BlobStore.delete`."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(
                f"could not delete blob: {exc.strerror}", operation="blob:delete"
            ) from exc

    def exists(self, key: str) -> bool:
        """See :meth:`BlobStore.exists`."""
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[BlobListing]:
        """See :meth:`BlobStore.list`."""
        start = self.root
        if "/" in prefix:
            start = self._path(prefix.rsplit("/", 1)[0])
        for path, stat in _walk(start, temporaries=False):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                yield BlobListing(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def sweep_incomplete(self, older_than: datetime) -> int:
        """See :meth:`BlobStore.sweep_incomplete`."""
        removed = 0
        for path, stat in _walk(self.root, temporaries=True):
            if datetime.fromtimestamp(stat.st_mtime, UTC) < older_than:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _path(self, key: str) -> Path:
        return self.root / validate_blob_key(key)


def _walk(directory: Path, *, temporaries: bool) -> Iterator[tuple[Path, os.stat_result]]:
    """Yield (path, stat) of regular files below ``directory``: blobs or temporaries."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), temporaries=temporaries)
        elif entry.is_file(follow_symlinks=False) and (
            entry.name.startswith(TEMP_PREFIX) == temporaries
        ):
            try:
                yield Path(entry.path), entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted while we walked


def _publish(temporary: Path, path: Path) -> None:
    """Give the finished temporary file its final name, never replacing an existing file.

    ``link`` refuses an existing target; on file systems without hard links, ``rename``
    (atomic, and the key is fresh and random, so nothing is there to replace).
    """
    try:
        os.link(temporary, path)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            temporary.unlink(missing_ok=True)
            raise
        os.rename(temporary, path)
        return
    os.unlink(temporary)


def _make_dirs(directory: Path, root: Path) -> None:
    """Create ``directory`` (under ``root``) and fsync each parent whose entries changed."""
    missing: list[Path] = []
    current = directory
    while current != root and not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
