"""Export a tenant's data for portability: a bundle the customer decrypts on its own.

The bundle (``byok.portable.bundle``) holds every live document exactly as stored (already
encrypted: the export needs no KMS call and never sees plaintext), the tenant's wrapped TKs
with the key ARN and encryption context of each, and a manifest with SHA-256 hashes, written
last. ``byok.portable.decrypt_export`` decrypts it with only the customer's AWS credentials
(``docs/OPERATIONS.md#export``).

Each document's bytes are hashed while copied and checked against the hash the store
recorded at write time, so a damaged blob is reported here, not discovered by the customer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from byok.core.arn import parse_key_arn
from byok.errors import IntegrityError, InvalidInput, NotFound, StateError
from byok.portable.bundle import (
    DOCUMENTS_DIR,
    KEYS_FILE,
    MANIFEST_FILE,
    ExportedDocument,
    ExportedKey,
    ExportManifest,
    document_path,
    keys_json,
)
from byok.private_files import make_private_dir, open_private
from byok.service.progress import QUIET, Progress
from byok.service.vendor import Vendor
from byok.store.documents import DocumentHead, DocumentReader
from byok.store.schema import TenantState

__all__ = ["export_tenant"]

_CHUNK = 1 << 20


def export_tenant(
    vendor: Vendor, tenant: str, out_dir: str | os.PathLike[str], *, progress: Progress = QUIET
) -> ExportManifest:
    """Write ``tenant``'s export bundle into ``out_dir`` (new or empty).

    Returns:
        The manifest written.

    Raises:
        NotFound: no such tenant.
        StateError: the tenant is offboarded (nothing is left to export).
        InvalidInput: ``out_dir`` is not empty.
        IntegrityError: a stored blob does not match its recorded hash (run ``byok fsck``).
        StorageError: reading the store or writing the bundle failed.
    """
    if vendor.tenants.get(tenant).state == TenantState.OFFBOARDED:
        raise StateError("the tenant is offboarded", tenant=tenant, operation="tenant:export")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise InvalidInput("out_dir", f"{out} is not empty", fix="Give a new or empty folder.")
    make_private_dir(out)  # the bundle holds ciphertext and wrapped keys: 0700, files 0600
    make_private_dir(out / DOCUMENTS_DIR)
    heads = list(_live_heads(vendor, tenant))
    documents: list[ExportedDocument] = []
    progress.start("exporting documents", len(heads))
    try:
        for head in heads:
            exported = _export_document(vendor, head, out, len(documents) + 1)
            if exported is not None:
                documents.append(exported)
            progress.advance()
    finally:
        progress.stop()
    # Keys after documents: every TK a copied document names exists by now (TKs are only
    # ever deleted by offboarding).
    keys = [
        ExportedKey(k.tk_id, k.key_arn, parse_key_arn(k.key_arn).region,
                    k.context, k.wrapped)
        for k in vendor.tenant_keys.list(tenant)
    ]  # fmt: skip
    raw_keys = keys_json(tenant, keys)
    _write_atomic(out / KEYS_FILE, raw_keys)
    manifest = ExportManifest(
        tenant=tenant, created_at=datetime.now(UTC).isoformat(),
        keys_sha256=hashlib.sha256(raw_keys).hexdigest(), keys=len(keys),
        documents=tuple(documents),
    )  # fmt: skip
    raw_manifest = manifest.to_json()
    _write_atomic(out / MANIFEST_FILE, raw_manifest)  # last: its presence marks completion
    vendor.audit.record(
        "tenant:export", tenant=tenant,
        detail={"documents": len(documents), "keys": len(keys),
                "manifest_sha256": hashlib.sha256(raw_manifest).hexdigest()},
    )  # fmt: skip
    return manifest


def _live_heads(vendor: Vendor, tenant: str) -> Iterator[DocumentHead]:
    cursor: str | None = None
    while True:
        page = vendor.documents.list(tenant, cursor=cursor, limit=1000)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _export_document(
    vendor: Vendor, head: DocumentHead, out: Path, index: int
) -> ExportedDocument | None:
    """Copy one document's stored bytes; None if it was deleted since it was listed."""
    try:
        reader = vendor.documents.get(head.tenant, head.name)
    except NotFound:
        return None
    path = document_path(index)
    with reader:
        size, digest = _copy(reader, out / path)
    current = reader.head  # the version actually copied (it may be newer than the listing)
    if (size, digest) != (current.size, current.sha256):
        raise IntegrityError(
            tenant=head.tenant, operation="tenant:export",
            fix="A stored blob does not match its recorded hash: run `byok fsck`.",
        )  # fmt: skip
    return ExportedDocument(
        name=current.name, path=path, size=size, sha256=digest, tk_id=current.tk_id,
        generation=current.generation, created_at=current.created_at.isoformat(),
        updated_at=current.updated_at.isoformat(), write_id=current.write_id,
    )  # fmt: skip


def _copy(reader: DocumentReader, target: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open_private(target) as sink:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            sink.write(chunk)
            size += len(chunk)
        sink.flush()
        os.fsync(sink.fileno())
    return size, digest.hexdigest()


def _write_atomic(target: Path, data: bytes) -> None:
    partial = target.with_name(f".{target.name}.partial")
    with open_private(partial, exclusive=False) as sink:
        sink.write(data)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(partial, target)
