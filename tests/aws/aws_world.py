"""Accounts, roles and keys in the local AWS for the Option A / Option B tests.

The world follows the customer guide: a vendor account with ``document-storage-role`` (trusted
by the vendor account, allowed to assume client roles and to use customer keys), a customer
account with a symmetric CMK whose key policy names the vendor role (Option A) and the client
role (Option B), and a client role whose trust policy requires the tenant's External ID.
Everything is created over HTTP through the ``local_aws`` fixture; nothing is patched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from byok.aws.access import KeyAccessProvider
from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.core.tenant_config import TenantKeyConfig, new_external_id

KMS_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
]
VENDOR_ROLE = "document-storage-role"
CLIENT_ROLE = "byok-client-role"
VENDOR_SID = "Allow access for the vendor"
ADMIN_SID = "Key administrators"
ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
CLIENT_SID = "Allow the client role"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Vendor:
    account: str
    role_arn: str


@dataclass
class Customer:
    """One customer account set up per the guide (fresh per test: tests break it)."""

    local_aws: Any
    account: str
    vendor: Vendor
    external_id: str
    key_arn: str = ""
    role_arn: str = ""
    key_statements: dict[str, dict[str, Any]] = field(default_factory=dict)

    def kms(self, region: str = "us-east-1") -> Any:
        return self.local_aws.client("kms", self.account, region)

    def iam(self) -> Any:
        return self.local_aws.client("iam", self.account)

    def put_key_policy(self) -> None:
        self.kms().put_key_policy(
            KeyId=self.key_arn,
            PolicyName="default",
            Policy=_doc(*self.key_statements.values()),
        )

    def remove_key_statement(self, sid: str) -> None:
        del self.key_statements[sid]
        self.put_key_policy()

    def set_trust(self, *, external_id: str | None) -> None:
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"AWS": self.vendor.role_arn},
            "Action": "sts:AssumeRole",
        }
        if external_id is not None:
            statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
        self.iam().update_assume_role_policy(RoleName=CLIENT_ROLE, PolicyDocument=_doc(statement))

    def delete_client_role(self) -> None:
        iam = self.iam()
        iam.delete_role_policy(RoleName=CLIENT_ROLE, PolicyName="byok-kms")
        iam.delete_role(RoleName=CLIENT_ROLE)

    def direct(self, tenant: str = "acme", **kw: Any) -> TenantKeyConfig:
        return TenantKeyConfig.create(tenant, "direct", kw.pop("key_arn", self.key_arn), **kw)

    def chained(self, tenant: str = "acme", **kw: Any) -> TenantKeyConfig:
        return TenantKeyConfig.create(
            tenant,
            "assume-role",
            kw.pop("key_arn", self.key_arn),
            client_role_arn=kw.pop("client_role_arn", self.role_arn),
            external_id=kw.pop("external_id", self.external_id),
            **kw,
        )


def make_vendor(local_aws: Any) -> Vendor:
    account = local_aws.new_account()
    iam = local_aws.client("iam", account)
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "sts:AssumeRole",
    }
    role = iam.create_role(RoleName=VENDOR_ROLE, AssumeRolePolicyDocument=_doc(trust))
    iam.put_role_policy(
        RoleName=VENDOR_ROLE,
        PolicyName="byok-access",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/*"},
            {"Effect": "Allow", "Action": KMS_ACTIONS, "Resource": "arn:aws:kms:*:*:key/*"},
        ),
    )
    return Vendor(account, role["Role"]["Arn"])


def make_customer(local_aws: Any, vendor: Vendor) -> Customer:
    account = local_aws.new_account()
    customer = Customer(local_aws, account, vendor, new_external_id())
    iam = customer.iam()
    role = iam.create_role(RoleName=CLIENT_ROLE, AssumeRolePolicyDocument=_doc())
    customer.role_arn = role["Role"]["Arn"]
    customer.set_trust(external_id=customer.external_id)
    key = customer.kms().create_key(Description="byok tenant root key")
    customer.key_arn = key["KeyMetadata"]["Arn"]
    iam.put_role_policy(
        RoleName=CLIENT_ROLE,
        PolicyName="byok-kms",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": KMS_ACTIONS, "Resource": customer.key_arn}
        ),
    )
    customer.key_statements = {
        # Administration only (the console's default "key administrators" actions): key
        # use is granted by the statements below alone, so removing one really revokes.
        ADMIN_SID: {
            "Sid": ADMIN_SID,
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": ADMIN_ACTIONS,
            "Resource": "*",
        },
        VENDOR_SID: {
            "Sid": VENDOR_SID,
            "Effect": "Allow",
            "Principal": {"AWS": vendor.role_arn},
            "Action": KMS_ACTIONS,
            "Resource": "*",
        },
        CLIENT_SID: {
            "Sid": CLIENT_SID,
            "Effect": "Allow",
            "Principal": {"AWS": customer.role_arn},
            "Action": KMS_ACTIONS,
            "Resource": "*",
        },
    }
    customer.put_key_policy()
    return customer


def vendor_settings(local_aws: Any, vendor: Vendor, **kw: Any) -> AwsSettings:
    """Settings whose service identity is the vendor account's root (local AWS keys)."""
    kw.setdefault("max_attempts", 3)
    kw.setdefault("connect_timeout_s", 1.0)
    kw.setdefault("read_timeout_s", 5.0)
    return AwsSettings(
        endpoint_url=local_aws.endpoint_url,
        base_credentials=StaticCredentials(f"ROOT{vendor.account}", "local-secret"),
        document_storage_role_arn=vendor.role_arn,
        **kw,
    )


@dataclass
class Access:
    """A provider wired like the service: purges recorded, counts readable."""

    factory: ClientFactory
    provider: KeyAccessProvider
    purged: list[str]

    def counts(self) -> dict[str, int]:
        return self.factory.counts()


MakeAccess = Callable[..., Access]
