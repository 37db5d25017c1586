#!/usr/bin/env python3
"""Key-migration benchmark (issue 7): move a tenant with 100,000 documents to a new CMK.

byok re-wraps tenant keys (TKs), not documents: the migration makes one KMS call per TK
whatever the number of documents. A classic envelope design stores one wrapped data key per
document and needs one ``kms:ReEncrypt`` per document. Both are measured in this run, on the
same in-process local AWS (``byok.localaws``), through the same KMS wrapper
(``byok.aws.kms.KmsKeyWrapper.rewrap``, vendor role to the customer's keys):

* byok: ``migrate_tenant`` on a tenant with ``--documents`` document rows spread over ``--tks``
  TKs (SQLite). 100 real documents (one per TK) are written through the service and read
  back after the old key is disabled; the other rows are bulk-inserted (a migration never
  reads documents, only their count matters, and their blobs are not written).
* per-document baseline: ``--sample`` ReEncrypt calls of distinct per-document data keys,
  timed, then **extrapolated** linearly to ``--documents`` (KMS time only; the per-document
  row updates the classic design also needs are not counted, which favours the baseline).

Figures merge into ``bench/results.json``: ``migrate_100k_kms_calls``,
``migrate_100k_seconds``, ``migrate_speedup_vs_per_document``. Usage:
``python bench/migrate.py [--documents N] [--tks N] [--sample N] [--quiet]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import merge

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.aws.kms import KmsKeyWrapper
from byok.core.policy.templates import CustomerSetup, VendorIdentity, vendor_key_statements
from byok.localaws.server import LocalAwsServer
from byok.localaws.testing import LocalAws
from byok.service.bootstrap import ensure_vendor_role
from byok.service.key_routing import KeyRouting
from byok.service.lifecycle import migrate_tenant, rotate_tenant_key
from byok.service.progress import QUIET, Progress, RichProgress
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store
from byok.store.lifecycle import NewDocumentRow, insert_document_rows

TENANT = "bench-tenant"
BATCH = 10_000


@dataclass
class Setup:
    """The vendor, the customer's two keys and the readable sample documents."""

    vendor: Vendor
    aws: LocalAws
    customer: str
    old_key: str
    new_key: str
    samples: dict[str, bytes]


def _key(aws: LocalAws, account: str, vendor_role: str) -> str:
    kms = aws.client("kms", account)
    arn = str(kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"])
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        # The statements `byok customer policy` prints: bound to the tenant (docs/SECURITY.md).
        *vendor_key_statements(
            VendorIdentity(vendor_role.split(":")[4],
                           customer_facing_role=vendor_role.rsplit("/", 1)[1]),
            CustomerSetup(TENANT, "direct", account)),
    ]}  # fmt: skip
    kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    return arn


def build(endpoint: str, folder: Path) -> Setup:
    """A vendor on SQLite over the local AWS, and a customer with two CMKs."""
    aws = LocalAws(endpoint)
    account, customer = aws.new_account(), aws.new_account()
    root = StaticCredentials(f"ROOT{account}", "local-secret")
    role = ensure_vendor_role(
        ClientFactory(AwsSettings(endpoint_url=endpoint, base_credentials=root)),
        role_name="document-storage-role", service_principal_arn=f"arn:aws:iam::{account}:root",
    )  # fmt: skip
    settings = AwsSettings(
        endpoint_url=endpoint, base_credentials=root, document_storage_role_arn=role.arn
    )
    factory = ClientFactory(settings)
    vendor = Vendor(
        Settings(vendor_account=account), store=Store.open(f"sqlite:///{folder / 'byok.db'}"),
        blobs=FilesystemBlobStore(folder / "blobs"), factory=factory,
    )  # fmt: skip
    old_key, new_key = _key(aws, customer, role.arn), _key(aws, customer, role.arn)
    vendor.create_tenant(TENANT)
    vendor.submit_config(TENANT, mode="direct", key_arn=old_key)
    assert vendor.verify(TENANT).passed
    vendor.activate(TENANT)
    return Setup(vendor, aws, customer, old_key, new_key, {})


def populate(setup: Setup, documents: int, tks: int) -> None:
    """``tks`` TKs, one real document under each, and bulk rows up to ``documents``."""
    vendor = setup.vendor
    tk_ids = []
    for i in range(tks):
        tk_ids.append(rotate_tenant_key(vendor, TENANT).tk_id)
        name, body = f"real/{i:05d}", f"document {i}".encode()
        vendor.put_document(TENANT, name, body)
        setup.samples[name] = body
    rows = [
        NewDocumentRow(f"bulk/{i:07d}", f"{TENANT}/bulk/{i:07d}", 64, "0" * 64, tk_ids[i % tks])
        for i in range(documents - tks)
    ]
    for start in range(0, len(rows), BATCH):
        insert_document_rows(vendor.store, TENANT, rows[start : start + BATCH])


def per_document_baseline(setup: Setup, sample: int) -> float:
    """Seconds for ``sample`` ReEncrypts of distinct per-document data keys (old to new CMK)."""
    vendor = setup.vendor
    active = vendor.tenants.active_config(TENANT)
    assert active is not None
    source: KmsKeyWrapper = vendor.access.wrapper_for(active.config)
    stored = vendor.submit_config(TENANT, mode="direct", key_arn=setup.new_key)
    destination = KeyRouting(vendor).wrapper_for_config(stored.config)
    contexts = [{"byok:tenant": TENANT, "doc": f"bulk/{i:07d}"} for i in range(sample)]
    wrapped = [source.generate_data_key(c).wrapped for c in contexts]  # set-up, not timed
    started = time.perf_counter()
    for blob, context in zip(wrapped, contexts, strict=True):
        source.rewrap(blob, context, destination)
    return time.perf_counter() - started


def run(documents: int, tks: int, sample: int, progress: Progress) -> dict[str, Any]:
    """Build, populate, measure both designs; return the figures."""
    with LocalAwsServer() as server, tempfile.TemporaryDirectory() as tmp:
        setup = build(server.endpoint_url, Path(tmp))
        started = time.perf_counter()
        populate(setup, documents, tks)
        print(f"set-up: {documents:,} document rows, {tks} TKs in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        baseline_s = per_document_baseline(setup, sample)
        vendor = setup.vendor
        assert vendor.verify(TENANT, 2).passed
        report = migrate_tenant(vendor, TENANT, to_version=2, progress=progress)
        assert report.complete and sum(report.rewrapped.values()) == tks
        setup.aws.client("kms", setup.customer).disable_key(KeyId=setup.old_key)
        vendor.envelope.purge_tenant(TENANT)
        for name, body in setup.samples.items():
            assert vendor.get_document(TENANT, name).read_all() == body
        vendor.store.close()
    calls = sum(report.kms_calls.values())
    extrapolated = baseline_s / sample * documents
    return {
        "documents": documents, "tks": tks, "kms_calls": calls, "kms_by_op": report.kms_calls,
        "seconds": report.seconds, "baseline_sample": sample, "baseline_sample_s": baseline_s,
        "baseline_extrapolated_s": extrapolated, "speedup": extrapolated / report.seconds,
    }  # fmt: skip


def main() -> None:
    """Parse arguments, run, print the table and merge the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--tks", type=int, default=100)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    progress = QUIET if args.quiet else RichProgress()
    r = run(args.documents, args.tks, args.sample, progress)
    print(f"\nkey migration of {r['documents']:,} documents under {r['tks']} TKs (local KMS)")
    print(f"  byok (one re-wrap per TK):     {r['kms_calls']:>9,} KMS calls {r['kms_by_op']}, "
          f"{r['seconds']:8.2f} s measured")  # fmt: skip
    print(f"  per-document re-wrap:          {r['documents']:>9,} KMS calls, "
          f"{r['baseline_extrapolated_s']:8.2f} s EXTRAPOLATED from {r['baseline_sample']:,} "
          f"measured calls ({r['baseline_sample_s']:.2f} s)")  # fmt: skip
    print(f"  ratio: byok is {r['speedup']:.0f}x faster, "
          f"{r['documents'] / max(r['kms_calls'], 1):.0f}x fewer KMS calls")  # fmt: skip
    if args.documents == 100_000:
        merge({
            "migrate_100k_kms_calls": r["kms_calls"],
            "migrate_100k_seconds": r["seconds"],
            "migrate_speedup_vs_per_document": r["speedup"],
        })  # fmt: skip
        print("merged into bench/results.json")


if __name__ == "__main__":
    main()
