"""The vendor and customer accounts of the customer-toolkit tests, in the local AWS.

The vendor account has the two roles the customer guide names: ``customer-facing-role`` and
``document-storage-role``. As byok's vendor service does, the vendor calls KMS as
``document-storage-role`` in both options (Option A: the customer's key policy names it, which
is the toolkit's default; Option B: the customer's client role trusts it); the other role
exists so a policy naming it is a realistic mistake. Vendor-side calls are made here with plain
boto3 clients of the local AWS, as the vendor's role sessions, so the customer's CloudTrail
records them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from byok.aws.clients import StaticCredentials
from byok.core.policy.templates import CustomerSetup, VendorIdentity
from byok.customer.aws import CustomerAws

FACING_ROLE = "customer-facing-role"
STORAGE_ROLE = "document-storage-role"
EXTERNAL_ID = "byok-Zx9_tenant-acme-external-id"


def doc(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class Vendor:
    account: str

    @property
    def identity(self) -> VendorIdentity:
        return VendorIdentity(self.account)

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{name}"


def make_vendor(local_aws: Any) -> Vendor:
    """A vendor account with both roles, each allowed to assume roles and use any key."""
    vendor = Vendor(local_aws.new_account())
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{vendor.account}:root"},
        "Action": "sts:AssumeRole",
    }
    rights = doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
    )
    for name in (FACING_ROLE, STORAGE_ROLE):
        local_aws.make_role(vendor.account, name, doc(trust), {"vendor-rights": rights})
    return vendor


def customer_aws(local_aws: Any, account: str) -> CustomerAws:
    """The customer's toolkit access: the account's root user, through the factory."""
    return CustomerAws.connect(
        endpoint_url=local_aws.endpoint_url,
        credentials=StaticCredentials(f"ROOT{account}", "secret"),
    )


def setup_for(account: str, mode: str, **kw: Any) -> CustomerSetup:
    if mode == "assume-role":
        kw.setdefault("external_id", EXTERNAL_ID)
    return CustomerSetup(
        tenant=kw.pop("tenant", "acme"),
        mode=mode,  # type: ignore[arg-type]
        customer_account=account,
        **kw,
    )


def vendor_kms(
    local_aws: Any, vendor: Vendor, handover: Mapping[str, Any], *, external_id: str | None = None
) -> Any:
    """A KMS client as the vendor reaches the customer's key (A: direct; B: chained)."""
    if handover["mode"] == "direct":
        creds = local_aws.assume(
            vendor.account, vendor.identity.role_arn("direct"), session_name="byok-vendor"
        )
    else:
        hop = local_aws.assume(
            vendor.account, vendor.role_arn(STORAGE_ROLE), session_name="byok-service"
        )
        creds = local_aws.assume(
            hop,
            handover["client_role_arn"],
            external_id=external_id or handover["external_id"],
            session_name=f"byok-{handover['tenant']}",
        )
    return local_aws.client("kms", creds, handover["region"])


def vendor_round_trip(
    local_aws: Any, vendor: Vendor, handover: Mapping[str, Any], tenant: str | None = None
) -> bytes:
    """GenerateDataKey then Decrypt with the tenant's encryption context, as the vendor.

    Returns:
        The plaintext data key (checked to decrypt back to itself).
    """
    kms = vendor_kms(local_aws, vendor, handover)
    context = {"byok:tenant": tenant or handover["tenant"], "byok:tk": "tk-1"}
    made = kms.generate_data_key(
        KeyId=handover["key_arn"], KeySpec="AES_256", EncryptionContext=context
    )
    back = kms.decrypt(
        CiphertextBlob=made["CiphertextBlob"], EncryptionContext=context, KeyId=handover["key_arn"]
    )
    assert back["Plaintext"] == made["Plaintext"]
    return bytes(made["Plaintext"])


def start_trail(
    local_aws: Any,
    account: str,
    *,
    region: str = "us-east-1",
    read_write: str | None = None,
    logging: bool = True,
) -> str:
    """A multi-Region trail in ``account`` (logging unless told otherwise); its name."""
    bucket = f"trail-{account}-{region}"
    local_aws.client("s3", account, region).create_bucket(
        Bucket=bucket,
        **(
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        ),
    )
    trail = local_aws.client("cloudtrail", account, region)
    trail.create_trail(Name="org-trail", S3BucketName=bucket, IsMultiRegionTrail=True)
    if read_write is not None:
        trail.put_event_selectors(
            TrailName="org-trail",
            EventSelectors=[{"ReadWriteType": read_write, "IncludeManagementEvents": True}],
        )
    if logging:
        trail.start_logging(Name="org-trail")
    return "org-trail"
