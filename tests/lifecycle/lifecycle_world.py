"""Helpers of the key-lifecycle tests: a vendor that rotates TKs often, onboarded tenants,
second keys in the customer's account, reading everything back.

Everything is set up over HTTP in the local AWS, as the customer guide says; nothing is
patched.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.core.tenant_keys import RotationPolicy
from byok.service.progress import QuietProgress
from byok.service.vendor import Vendor
from support import world
from support.world import CustomerAccount

TENANT = "acme"


class Crash(Exception):
    """A simulated crash of a lifecycle job."""


class CrashAfter(QuietProgress):
    """A progress reporter that crashes the job after ``limit`` items."""

    def __init__(self, limit: int) -> None:
        self.limit, self.done = limit, 0

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.done >= self.limit:
            raise Crash


def rotating(vendor: Vendor, every: int) -> Vendor:
    """The same vendor (store, blobs, AWS) with a new TK every ``every`` documents."""
    return Vendor(
        vendor.settings, store=vendor.store, blobs=vendor.documents.blobs,
        factory=vendor.factory, rotation=RotationPolicy(max_documents=every),
    )  # fmt: skip


def second_key(customer: CustomerAccount) -> CustomerAccount:
    """The same customer account with a new CMK (default key policy)."""
    key = customer.kms().create_key(Description="byok second CMK", KeyUsage="ENCRYPT_DECRYPT")
    return dataclasses.replace(customer, key_arn=key["KeyMetadata"]["Arn"], role_arn="")


def onboard_direct(vendor: Vendor, customer: CustomerAccount, tenant: str = TENANT) -> None:
    """Create, configure (Option A), verify and activate ``tenant``."""
    world.onboard_direct(vendor, customer, tenant)


def new_direct_config(vendor: Vendor, customer: CustomerAccount, tenant: str = TENANT) -> int:
    """Submit and verify an Option A configuration for ``customer``'s key; its version."""
    customer.key_policy(customer.vendor_role_arn, tenant=tenant)
    stored = vendor.submit_config(tenant, mode="direct", key_arn=customer.key_arn)
    assert vendor.verify(tenant, stored.version).passed
    return stored.version


def new_chained_config(vendor: Vendor, customer: CustomerAccount, tenant: str = TENANT) -> int:
    """Submit and verify an Option B configuration (client role) for ``customer``'s key."""
    external_id = vendor.tenants.get(tenant).external_id
    role = customer.make_client_role(external_id=external_id, tenant=tenant)
    customer.key_policy(role, tenant=tenant)
    stored = vendor.submit_config(
        tenant, mode="assume-role", key_arn=customer.key_arn,
        client_role_arn=role, external_id=external_id,
    )  # fmt: skip
    assert vendor.verify(tenant, stored.version).passed
    return stored.version


def write_documents(vendor: Vendor, count: int, prefix: str = "doc") -> dict[str, bytes]:
    """Put ``count`` small documents; returns name to plaintext."""
    written = {f"{prefix}-{i:03d}": f"{prefix} body {i} ".encode() * (i + 1) for i in range(count)}
    for name, body in written.items():
        vendor.put_document(TENANT, name, body)
    return written


def read_all(vendor: Vendor, expected: dict[str, bytes]) -> None:
    """Every document reads back exactly (``Vendor.get_document`` routes each TK's unwrap)."""
    for name, body in expected.items():
        assert vendor.get_document(TENANT, name).read_all() == body, name


def customer_factory(local_aws: Any, customer: CustomerAccount) -> ClientFactory:
    """A client factory signing with the customer account's own root credentials only."""
    root = StaticCredentials(f"ROOT{customer.account}", "local-secret")
    return ClientFactory(
        AwsSettings(endpoint_url=local_aws.endpoint_url, max_attempts=2, base_credentials=root)
    )
