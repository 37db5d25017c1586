"""A storage adversary (write access to the blob store, none to the database) cannot roll a
document back or swap in another one: every read proves it returns the row's version.

Issue 17: on the old main, writing version 1's bytes over version 2's blob made GET answer
version 1's content under version 2's ETag. Here every earlier version's bytes and every other
document's bytes (also another tenant's) are written over a blob, on the filesystem and on S3,
and each read fails with the one integrity error; ``byok fsck`` reports each as damaged.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from byok.errors import IntegrityError
from byok.service.vendor import Vendor
from byok.store.blobs import BlobStore, FilesystemBlobStore
from byok.store.fsck import fsck
from byok.store.s3 import S3BlobStore
from byok.store.schema import DocumentRow, DocumentState
from support.world import CustomerAccount, build_vendor, new_customer


def _onboard(vendor: Vendor, customer: CustomerAccount, *tenants: str) -> None:
    for tenant in tenants:
        # One key per tenant: a key serves exactly one tenant (docs/SECURITY.md).
        made = customer.kms().create_key(Description=f"{tenant} key", KeyUsage="ENCRYPT_DECRYPT")
        own = dataclasses.replace(customer, key_arn=made["KeyMetadata"]["Arn"])
        own.key_policy(own.vendor_role_arn, tenant=tenant)
        vendor.create_tenant(tenant)
        vendor.submit_config(tenant, mode="direct", key_arn=own.key_arn)
        assert vendor.verify(tenant).passed
        vendor.activate(tenant)


def _s3(local_aws: Any) -> S3BlobStore:
    account = local_aws.new_account()
    client = local_aws.client("s3", account)
    bucket = f"byok-rollback-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=bucket)
    return S3BlobStore(client, bucket, namespace="docs")


def _overwrite(blobs: BlobStore, key: str, data: bytes) -> None:
    """What an adversary with write access to the blob store does (not through byok)."""
    if isinstance(blobs, FilesystemBlobStore):
        blobs._path(key).write_bytes(data)
    else:
        assert isinstance(blobs, S3BlobStore)
        blobs._client.put_object(Bucket=blobs.bucket, Key=blobs._object(key), Body=data)


def _raw(blobs: BlobStore, key: str) -> bytes:
    with blobs.open(key) as stream:
        return stream.read()


def _live_key(vendor: Vendor, tenant: str, name: str) -> str:
    with vendor.store.read() as session:
        return session.scalars(
            select(DocumentRow.blob_key).where(
                DocumentRow.tenant_id == tenant, DocumentRow.name == name,
                DocumentRow.state == DocumentState.LIVE,
            )
        ).one()  # fmt: skip


@pytest.mark.localaws
@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_every_earlier_version_and_every_other_document_is_refused(
    local_aws: Any, database_url: str, tmp_path: Path, backend: str
) -> None:
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs")
    if backend == "s3":
        vendor.documents.blobs = _s3(local_aws)
    blobs = vendor.documents.blobs
    _onboard(vendor, new_customer(local_aws, role_arn), "acme", "beta")
    saved: dict[tuple[str, str], list[bytes]] = {}  # every version's stored bytes, oldest first
    for tenant, name in [("acme", "a"), ("acme", "b"), ("beta", "a")]:
        for version in range(3):
            # Same length every time: the stored size alone cannot tell versions apart.
            vendor.put_document(tenant, name, f"{tenant}/{name} v{version}".encode())
            saved.setdefault((tenant, name), []).append(
                _raw(blobs, _live_key(vendor, tenant, name))
            )
    refused = 0
    for (tenant, name), versions in saved.items():
        key = _live_key(vendor, tenant, name)
        current = versions[-1]
        others = versions[:-1] + [v for k, vs in saved.items() if k != (tenant, name) for v in vs]
        for forged in others:
            _overwrite(blobs, key, forged)
            with pytest.raises(IntegrityError) as caught:
                vendor.get_document(tenant, name).read_all()
            assert str(caught.value) == str(IntegrityError())
            report = fsck(vendor.store, blobs, tenant=tenant)
            assert [d.name for d in report.damaged_blobs] == [name]
            refused += 1
        _overwrite(blobs, key, current)
        assert vendor.get_document(tenant, name).read_all() == f"{tenant}/{name} v2".encode()
    assert refused == 3 * (2 + 6)
    assert fsck(vendor.store, blobs).clean
    vendor.store.close()


def _encrypt_v1() -> Any:
    """The spec-built v1 writer of scripts/vectors_v1.py (byok itself writes v2 only)."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "vectors_v1.py"
    spec = importlib.util.spec_from_file_location("vectors_v1", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.encrypt_v1


@pytest.mark.localaws
def test_a_version_written_before_format_v2_is_checked_by_its_digest(
    local_aws: Any, database_url: str, tmp_path: Path
) -> None:
    """Rows written before v2 have v1 blobs and no write id: the read checks the row's SHA-256."""
    vendor, role_arn = build_vendor(local_aws, database_url, tmp_path / "blobs")
    _onboard(vendor, new_customer(local_aws, role_arn), "acme")
    head = vendor.put_document("acme", "seed", b"makes the tenant key")
    assert head.tk_id is not None and head.write_id is not None
    wrapper = vendor.active_wrapper("acme")
    key = vendor.cache.get("acme", head.tk_id, wrapper.key_arn, "vendor-service")
    assert key is not None
    encrypt_v1 = _encrypt_v1()
    first, second = (
        encrypt_v1(text, key, "old", 1024, os.urandom(32)) for text in (b"one", b"two")
    )
    for blob in (first, second):  # as a pre-v2 byok stored them: no write id
        vendor.documents.put("acme", "old", [blob], tk_id=head.tk_id)
    assert vendor.get_document("acme", "old").read_all() == b"two"
    _overwrite(vendor.documents.blobs, _live_key(vendor, "acme", "old"), first)
    with pytest.raises(IntegrityError):
        vendor.get_document("acme", "old").read_all()
    vendor.store.close()
