"""Benchmark: documents through the vendor service vs the same bytes unencrypted, same store path.

Both sides run on the embedded defaults (SQLite file + filesystem blobs) in one process, against
the in-process local AWS, in the same run:

* **encrypted**: ``Vendor.put_document`` / ``get_document`` (envelope encryption, TK cache,
  tenant-state checks, audit record);
* **plain** (baseline): ``DocumentRepository.put`` / ``get`` of the same bytes plus the same
  audit record: everything but the encryption.

It also measures the revocation delay (disable the key, how long until reads are refused) at
a 2 s bound, for each revocation kind. Figures merge into ``bench/results.json`` as
``store_4kib_ratio_vs_plain``, ``store_1mib_ratio_vs_plain`` and ``revocation_delay_max_s``.

Usage: ``python bench/store.py [--seconds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import merge

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.core.policy.templates import CustomerSetup, VendorIdentity, vendor_key_statements
from byok.errors import CustomerAccessError
from byok.localaws.server import LocalAwsServer
from byok.localaws.testing import LocalAws
from byok.service.bootstrap import ensure_vendor_role
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store


def _vendor(aws: LocalAws, home: Path, bound_s: float) -> tuple[Vendor, str, str]:
    account, customer = aws.new_account(), aws.new_account()
    root = StaticCredentials(f"ROOT{account}", "local")
    role = ensure_vendor_role(
        ClientFactory(AwsSettings(endpoint_url=aws.endpoint_url, base_credentials=root)),
        role_name="document-storage-role", service_principal_arn=f"arn:aws:iam::{account}:root",
    )  # fmt: skip
    vendor = Vendor(
        Settings(home=home, vendor_account=account, revocation_bound_s=bound_s),
        store=Store.open(f"sqlite:///{home / 'byok.db'}"),
        blobs=FilesystemBlobStore(home / "blobs"),
        factory=ClientFactory(AwsSettings(
            endpoint_url=aws.endpoint_url, base_credentials=root, document_storage_role_arn=role.arn
        )),
    )  # fmt: skip
    kms = aws.client("kms", customer)
    key_arn = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{customer}:root"},
         "Action": "kms:*", "Resource": "*"},
        # The statements `byok customer policy` prints: bound to the tenant (docs/SECURITY.md).
        *vendor_key_statements(
            VendorIdentity(role.arn.split(":")[4]), CustomerSetup("bench", "direct", customer)),
    ]}  # fmt: skip
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy))
    vendor.create_tenant("bench")
    vendor.submit_config("bench", mode="direct", key_arn=key_arn)
    assert vendor.verify("bench").passed
    vendor.activate("bench")
    return vendor, customer, key_arn


def _rates(
    first: Callable[[int], None], second: Callable[[int], None], seconds: float
) -> tuple[float, float]:
    """Operations per second of each of two operations, run alternately for ``seconds``.

    Alternating (rather than one after the other) exposes both to the same machine load, so
    the ratio stays meaningful on a busy machine. One warm-up call each first.
    """
    first(-1)
    second(-1)
    spent = [0.0, 0.0]
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2 * seconds:
        for side, op in enumerate((first, second)):
            began = time.perf_counter()
            op(count)
            spent[side] += time.perf_counter() - began
        count += 1
    return count / spent[0], count / spent[1]


def _put_get_rates(vendor: Vendor, size: int, seconds: float) -> tuple[float, float]:
    body = os.urandom(size)

    def encrypted(i: int) -> None:
        name = f"enc/{size}/{i}"
        vendor.put_document("bench", name, body)
        assert vendor.get_document("bench", name).read_all() == body

    def plain(i: int) -> None:
        name = f"plain/{size}/{i}"
        vendor.documents.put("bench", name, body)
        vendor.audit.record("document:put", tenant="bench", document=name, size=size)
        with vendor.documents.get("bench", name) as reader:
            assert reader.read() == body
        vendor.audit.record("document:get", tenant="bench", document=name, size=size)

    return _rates(encrypted, plain, seconds)


def _revocation_delay(vendor: Vendor, aws: LocalAws, customer: str, key_arn: str) -> float:
    vendor.put_document("bench", "revocation", b"x")
    vendor.get_document("bench", "revocation").read_all()
    aws.client("kms", customer).disable_key(KeyId=key_arn)
    start = time.monotonic()
    try:
        while time.monotonic() - start < 30:
            try:
                vendor.get_document("bench", "revocation").read_all()
            except CustomerAccessError:
                return time.monotonic() - start
            time.sleep(0.02)
        raise SystemExit("access was never refused")
    finally:
        aws.client("kms", customer).enable_key(KeyId=key_arn)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as home, LocalAwsServer() as server:
        aws = LocalAws(server.endpoint_url)
        vendor, customer, key_arn = _vendor(aws, Path(home), bound_s=2.0)
        print(f"{'size':>8} {'encrypted ops/s':>16} {'plain ops/s':>12} {'ratio':>6}")
        for size, name in (
            (4096, "store_4kib_ratio_vs_plain"),
            (1 << 20, "store_1mib_ratio_vs_plain"),
        ):
            enc, plain = _put_get_rates(vendor, size, args.seconds)
            figures[name] = enc / plain
            print(f"{size:>8} {enc:>16.1f} {plain:>12.1f} {enc / plain:>6.2f}")
        delays = [_revocation_delay(vendor, aws, customer, key_arn) for _ in range(3)]
        figures["revocation_delay_max_s"] = max(delays)
        print(f"revocation delay at a 2 s bound (disable key, 3 runs): "
              f"max {max(delays):.2f}s, all {[round(d, 2) for d in delays]}")  # fmt: skip
        vendor.store.close()
    merge(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
