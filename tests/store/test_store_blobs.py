"""The one shared suite every BlobStore backend must pass (filesystem, S3)."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byok.errors import InvalidInput, NotFound, StorageError
from byok.store import BlobStore, FilesystemBlobStore
from byok.store.blobs import CHUNK_SIZE, TEMP_PREFIX
from byok.store.s3 import S3BlobStore

MiB = 1024 * 1024
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


def _data(size: int, seed: int = 0) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _read(blobs: BlobStore, key: str) -> bytes:
    with blobs.open(key) as stream:
        return stream.read()


@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17])
def test_round_trip(blobs: BlobStore, size: int) -> None:
    data = _data(size)
    info = blobs.put(data, prefix="acme/")
    assert info.key.startswith("acme/")
    assert (info.size, info.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert _read(blobs, info.key) == data
    assert blobs.exists(info.key)


def test_large_blob_streams_in_parts(blobs: BlobStore) -> None:
    data = _data(11 * MiB + 5, seed=1)  # three S3 parts of 5 MiB, 5 MiB, 1 MiB + 5
    chunks = (data[i : i + 64 * 1024] for i in range(0, len(data), 64 * 1024))
    info = blobs.put(chunks, prefix="acme/")
    assert info.size == len(data)
    with blobs.open(info.key) as stream:
        head = stream.read(10)
        rest = stream.read()
    assert head + rest == data


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "file", "chunks"])
def test_every_source_kind(blobs: BlobStore, kind: str) -> None:
    data = _data(5000, seed=2)
    source: object = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "file": io.BytesIO(data),
        "chunks": iter([data[:1], b"", data[1:4000], data[4000:]]),
    }[kind]
    info = blobs.put(source)  # type: ignore[arg-type]
    assert _read(blobs, info.key) == data


def test_keys_are_fresh_so_nothing_is_overwritten(blobs: BlobStore) -> None:
    first = blobs.put(b"same", prefix="acme/")
    second = blobs.put(b"same", prefix="acme/")
    assert first.key != second.key
    assert first.sha256 == second.sha256
    blobs.delete(first.key)
    assert _read(blobs, second.key) == b"same"


def test_missing_blobs(blobs: BlobStore) -> None:
    info = blobs.put(b"x", prefix="acme/")
    blobs.delete(info.key)
    assert not blobs.exists(info.key)
    with pytest.raises(NotFound):
        blobs.open(info.key)
    blobs.delete(info.key)  # idempotent
    with pytest.raises(NotFound):
        blobs.open("acme/00/never-written")


def test_list_by_prefix(blobs: BlobStore) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    acme = {blobs.put(_data(n), prefix="acme/").key: n for n in (1, 2, 3)}
    globex = blobs.put(b"g", prefix="globex/")
    acme_listed = {entry.key: entry for entry in blobs.list("acme/")}
    assert {k: e.size for k, e in acme_listed.items()} == acme
    assert all(
        before < e.modified < datetime.now(UTC) + timedelta(minutes=5) for e in acme_listed.values()
    )
    assert {e.key for e in blobs.list()} == set(acme) | {globex.key}
    assert list(blobs.list("nobody/")) == []
    one = next(iter(acme))
    assert [e.key for e in blobs.list(one)] == [one]


def test_malformed_keys_are_refused(blobs: BlobStore) -> None:
    for key in ("../../etc/passwd", "/abs", "a//b", ".tmp-x", "a/.hidden", "", "a b"):
        with pytest.raises(InvalidInput):
            blobs.open(key)
    with pytest.raises(InvalidInput):
        blobs.put(b"x", prefix="../")


class Boom(Exception):
    pass


def _failing(after: int) -> Iterator[bytes]:
    yield _data(after, seed=3)
    raise Boom


@pytest.mark.parametrize("after", [0, 1000, 11 * MiB])
def test_a_failed_put_leaves_nothing(blobs: BlobStore, after: int) -> None:
    with pytest.raises(Boom):
        blobs.put(_failing(after), prefix="acme/")
    assert list(blobs.list()) == []
    assert blobs.sweep_incomplete(FAR_FUTURE) == 0


def _start_incomplete_write(blobs: BlobStore) -> None:
    """What a crash mid-put leaves behind, made by hand for each backend."""
    if isinstance(blobs, FilesystemBlobStore):
        directory = blobs.root / "acme" / "ab"
        directory.mkdir(parents=True)
        (directory / f"{TEMP_PREFIX}deadbeef").write_bytes(b"partial")
    elif isinstance(blobs, S3BlobStore):
        blobs._client.create_multipart_upload(Bucket=blobs.bucket, Key="docs/acme/ab/partial")
    else:  # pragma: no cover - a new backend must add its case here
        raise AssertionError(type(blobs))


def test_incomplete_writes_are_invisible_and_swept(blobs: BlobStore) -> None:
    kept = blobs.put(b"complete", prefix="acme/")
    _start_incomplete_write(blobs)
    assert [e.key for e in blobs.list()] == [kept.key]
    if not isinstance(blobs, S3BlobStore):
        # moto 5.2.5 reports every multipart upload as initiated on 2010-11-10, so the
        # grace period of an S3 sweep can only be checked against real S3.
        assert blobs.sweep_incomplete(datetime.now(UTC) - timedelta(hours=1)) == 0  # too young
    assert blobs.sweep_incomplete(FAR_FUTURE) == 1
    assert blobs.sweep_incomplete(FAR_FUTURE) == 0
    assert _read(blobs, kept.key) == b"complete"


def test_filesystem_put_is_fsynced_and_private(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "b")
    info = store.put(b"secret-ish", prefix="acme/")
    path = tmp_path / "b" / info.key
    assert path.read_bytes() == b"secret-ish"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not any(p.name.startswith(TEMP_PREFIX) for p in (tmp_path / "b").rglob("*"))


@settings(max_examples=40, deadline=None)
@given(chunks=st.lists(st.binary(max_size=3000), max_size=8))
def test_filesystem_round_trip_property(chunks: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = FilesystemBlobStore(root)
        info = store.put(iter(chunks), prefix="t/")
        data = b"".join(chunks)
        assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        assert _read(store, info.key) == data
        assert os.listdir(Path(root) / "t" / info.key.split("/")[1]) == [info.key.split("/")[2]]


def test_filesystem_without_hard_links_falls_back_to_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(source: object, target: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    store = FilesystemBlobStore(tmp_path / "b")
    info = store.put(b"renamed", prefix="acme/")
    assert _read(store, info.key) == b"renamed"
    assert [e.key for e in store.list()] == [info.key]
    assert not any(p.name.startswith(TEMP_PREFIX) for p in (tmp_path / "b").rglob("*"))


def test_filesystem_put_never_replaces_an_existing_blob(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "b", token=lambda: "ab" * 16)
    first = store.put(b"first", prefix="acme/")
    with pytest.raises(StorageError):
        store.put(b"second", prefix="acme/")  # same key drawn again: refused, not replaced
    assert _read(store, first.key) == b"first"
    assert not any(p.name.startswith(TEMP_PREFIX) for p in (tmp_path / "b").rglob("*"))
