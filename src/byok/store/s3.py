"""S3 blob store: the :class:`~byok.store.blobs.BlobStore` for more than one machine.

The caller builds the boto3 S3 client (through ``byok.aws``'s client factory, so endpoint,
retries and timeouts are set in one place) and passes it in. Small bodies go up in one
``PutObject``; larger ones as a multipart upload that is aborted on any failure, so S3 never
shows a partial object. An upload cut short by a crash stays invisible (S3 only shows an
object once ``CompleteMultipartUpload`` succeeds) and :meth:`S3BlobStore.sweep_incomplete`
aborts it later. botocore errors become :class:`~byok.errors.StorageError` at this edge.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from byok.errors import NotFound, StorageError
from byok.store.blobs import (
    BlobInfo,
    BlobListing,
    ByteSource,
    HashingCounter,
    iter_chunks,
    new_blob_key,
    validate_blob_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef
else:
    S3Client = Any

__all__ = ["MIN_PART_SIZE", "S3BlobStore"]

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
DEFAULT_PART_SIZE = 8 * 1024 * 1024
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    """Blobs as objects in one S3 bucket, optionally under a key ``namespace`` (``"byok/"``)."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        namespace: str = "",
        part_size: int = DEFAULT_PART_SIZE,
        token: Callable[[], str] | None = None,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        if namespace:
            validate_blob_key(namespace.rstrip("/"), field="namespace")
            namespace = namespace.rstrip("/") + "/"
        self._client = client
        self.bucket = bucket
        self.namespace = namespace
        self.part_size = part_size
        self._token = token

    def put(self, body: ByteSource, *, prefix: str = "") -> BlobInfo:
        """See :meth:`byok.store.blobs.BlobStore.put`."""
        key = new_blob_key(prefix, token=self._token)
        counter = HashingCounter()
        parts = _parts(iter_chunks(body), self.part_size)
        first = next(parts, b"")
        with _storage_errors("blob:put"):
            following = next(parts, None)
            if following is None:
                self._client.put_object(
                    Bucket=self.bucket, Key=self._object(key), Body=counter.update(first)
                )
            else:
                self._multipart(key, counter, [first, following], parts)
        return counter.info(key)

    def _multipart(
        self, key: str, counter: HashingCounter, head: list[bytes], rest: Iterator[bytes]
    ) -> None:
        name = self._object(key)
        upload = self._client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
        try:
            done: list[CompletedPartTypeDef] = []
            for number, part in enumerate(_chain(head, rest), start=1):
                answer = self._client.upload_part(
                    Bucket=self.bucket, Key=name, UploadId=upload, PartNumber=number,
                    Body=counter.update(part),
                )  # fmt: skip
                done.append({"ETag": answer["ETag"], "PartNumber": number})
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=name, UploadId=upload, MultipartUpload={"Parts": done}
            )
        except BaseException:
            self._abort(name, upload)
            raise

    def _abort(self, name: str, upload: str) -> None:
        # If this fails too, the upload stays invisible and sweep_incomplete aborts it later.
        with suppress(BotoCoreError, ClientError):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload)

    def open(self, key: str) -> BinaryIO:
        """See :meth:`byok.store.blobs.BlobStore.open`."""
        with _storage_errors("blob:get"):
            answer = self._client.get_object(Bucket=self.bucket, Key=self._object(key))
        return io.BufferedReader(_StreamingBody(answer["Body"]), buffer_size=1024 * 1024)

    def delete(self, key: str) -> None:
        """See :meth:`byok.store.blobs.BlobStore.delete`."""
        with _storage_errors("blob:delete"):
            self._client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def exists(self, key: str) -> bool:
        """See :meth:`byok.store.blobs.BlobStore.exists`."""
        try:
            with _storage_errors("blob:head"):
                self._client.head_object(Bucket=self.bucket, Key=self._object(key))
        except NotFound:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[BlobListing]:
        """See :meth:`byok.store.blobs.BlobStore.list`."""
        paginator = self._client.get_paginator("list_objects_v2")
        with _storage_errors("blob:list"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.namespace + prefix):
                for entry in page.get("Contents", []):
                    key = entry["Key"][len(self.namespace) :]
                    yield BlobListing(key, entry["Size"], entry["LastModified"])

    def sweep_incomplete(self, older_than: datetime) -> int:
        """See :meth:`byok.store.blobs.BlobStore.sweep_incomplete` (aborts multipart uploads)."""
        paginator = self._client.get_paginator("list_multipart_uploads")
        stale = []
        with _storage_errors("blob:sweep"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.namespace):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < older_than:
                        stale.append((upload["Key"], upload["UploadId"]))
            for name, upload_id in stale:
                self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id
                )
        return len(stale)

    def _object(self, key: str) -> str:
        return self.namespace + validate_blob_key(key)


@contextmanager
def _storage_errors(operation: str) -> Iterator[None]:
    """Convert botocore errors raised in the block into NotFound / StorageError."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise NotFound("no such blob", operation=operation) from exc
        raise StorageError(f"S3 refused the request ({code})", operation=operation) from exc
    except BotoCoreError as exc:
        raise StorageError("S3 could not be reached", operation=operation) from exc


class _StreamingBody(io.RawIOBase):
    """A raw stream over botocore's StreamingBody, so it can sit under a BufferedReader."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            chunk: bytes = self._body.read(len(view))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError("reading the blob from S3 failed", operation="blob:get") from exc
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _parts(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Regroup ``chunks`` into parts of exactly ``size`` bytes (the last may be shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _chain(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    yield from head
    yield from rest
