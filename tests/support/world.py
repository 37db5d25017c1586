"""Helpers for the service tests: accounts set up per the customer guide, a vendor service.

Everything is created over HTTP in the local AWS; nothing is patched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.core.policy.templates.levers import AccessLevers, lever_statements
from byok.service.bootstrap import VENDOR_KMS_ACTIONS, ensure_vendor_role
from byok.service.vendor import Vendor
from byok.settings import Settings
from byok.store.blobs import FilesystemBlobStore
from byok.store.database import Store

VENDOR_ROLE = "document-storage-role"
CLIENT_ROLE = "byok-client-role"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _vendor_statements(principals: list[str] | None, tenant: str | None) -> list[dict[str, Any]]:
    principal = {} if principals is None else {"Principal": {"AWS": principals}}
    if tenant is None:
        return [{"Effect": "Allow", **principal, "Action": list(VENDOR_KMS_ACTIONS),
                 "Resource": "*"}]  # fmt: skip
    bound = {"StringEquals": {"kms:EncryptionContext:byok:tenant": tenant}}
    return [
        {"Effect": "Allow", **principal, "Action": list(VENDOR_KMS_ACTIONS[:4]),
         "Resource": "*", "Condition": bound},
        {"Effect": "Allow", **principal, "Action": ["kms:DescribeKey"], "Resource": "*"},
    ]  # fmt: skip


@dataclass
class CustomerAccount:
    """A customer account with a CMK and (for Option B) a client role, set up per the guide."""

    local_aws: Any
    account: str
    key_arn: str
    vendor_role_arn: str
    role_arn: str = ""

    def kms(self) -> Any:
        return self.local_aws.client("kms", self.account)

    def iam(self) -> Any:
        return self.local_aws.client("iam", self.account)

    def key_policy(
        self, *principals: str, tenant: str | None = None, levers: AccessLevers | None = None
    ) -> None:
        """The root statement, plus the vendor statement for ``principals``: bound to
        ``tenant``'s encryption context (the default byok prints), or the guide's
        unconditioned statement when ``tenant`` is None (a key any tenant could use); plus
        the Deny statements of the customer's ``levers`` (as ``byok customer policy``)."""
        statements = [
            {"Sid": "Enable IAM policies", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{self.account}:root"},
             "Action": "kms:*", "Resource": "*"},
        ]  # fmt: skip
        if principals:
            statements += _vendor_statements(list(principals), tenant)
            if levers is not None:
                statements += lever_statements(list(principals), "the vendor", levers)
        self.kms().put_key_policy(
            KeyId=self.key_arn, PolicyName="default", Policy=_doc(*statements)
        )

    def make_client_role(self, external_id: str | None, tenant: str | None = None) -> str:
        """The client role trusting the vendor role (with ``external_id`` when given); its
        permissions bound to ``tenant``'s encryption context when given."""
        trust: dict[str, Any] = {
            "Effect": "Allow", "Principal": {"AWS": self.vendor_role_arn},
            "Action": "sts:AssumeRole",
        }  # fmt: skip
        if external_id is not None:
            trust["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
        role = self.iam().create_role(RoleName=CLIENT_ROLE, AssumeRolePolicyDocument=_doc(trust))
        permissions = [
            {k: v for k, v in s.items() if k != "Principal"} | {"Resource": self.key_arn}
            for s in _vendor_statements(None, tenant)
        ]
        self.iam().put_role_policy(
            RoleName=CLIENT_ROLE, PolicyName="byok-kms", PolicyDocument=_doc(*permissions)
        )
        self.role_arn = str(role["Role"]["Arn"])
        return self.role_arn

    def delete_client_role(self) -> None:
        self.iam().delete_role_policy(RoleName=CLIENT_ROLE, PolicyName="byok-kms")
        self.iam().delete_role(RoleName=CLIENT_ROLE)


@dataclass
class World:
    vendor: Vendor
    vendor_account: str
    customer: CustomerAccount


def build_vendor(
    local_aws: Any, database_url: str, blob_dir: Path, *, bound_s: float = 300.0
) -> tuple[Vendor, str]:
    """A vendor service whose identity is a fresh vendor account's root; and its role ARN."""
    account = local_aws.new_account()
    root = StaticCredentials(f"ROOT{account}", "local-secret")
    role = ensure_vendor_role(
        ClientFactory(AwsSettings(endpoint_url=local_aws.endpoint_url, base_credentials=root)),
        role_name=VENDOR_ROLE,
        service_principal_arn=f"arn:aws:iam::{account}:root",
    )
    aws = AwsSettings(
        endpoint_url=local_aws.endpoint_url,
        max_attempts=2,
        base_credentials=root,
        document_storage_role_arn=role.arn,
    )
    # home: where the vendor keys of the composite wrap live (beside the blobs, per test).
    settings = Settings(home=blob_dir.parent, vendor_account=account, revocation_bound_s=bound_s)
    store = Store.open(database_url)
    vendor = Vendor(
        settings, store=store, blobs=FilesystemBlobStore(blob_dir), factory=ClientFactory(aws)
    )
    return vendor, role.arn


def new_customer(local_aws: Any, vendor_role_arn: str) -> CustomerAccount:
    """A fresh customer account with a symmetric ENCRYPT_DECRYPT CMK (default key policy)."""
    account = local_aws.new_account()
    kms = local_aws.client("kms", account)
    key = kms.create_key(Description="byok test CMK", KeyUsage="ENCRYPT_DECRYPT")
    return CustomerAccount(local_aws, account, key["KeyMetadata"]["Arn"], vendor_role_arn)


def fresh_postgres(url: str) -> str:
    """Empty the PostgreSQL test database's public schema (prefer ``database_url``'s schema)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def onboard_direct(vendor: Vendor, customer: CustomerAccount, tenant: str) -> None:
    """Create, configure (Option A, the tenant-bound key policy), verify and activate."""
    vendor.create_tenant(tenant)
    customer.key_policy(customer.vendor_role_arn, tenant=tenant)
    vendor.submit_config(tenant, mode="direct", key_arn=customer.key_arn)
    assert vendor.verify(tenant).passed
    vendor.activate(tenant)
