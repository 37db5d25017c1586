"""The vendor's own AWS set-up: the ``document-storage-role`` customers trust.

Customers name this role in their key policy (Option A) or their client role's trust policy
(Option B). The vendor's service identity assumes it; it may assume customers' client roles
and use customers' keys, and nothing else. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from byok.aws.clients import ClientFactory
from byok.aws.errors import error_code
from byok.errors import ConfigurationError

__all__ = ["VENDOR_KMS_ACTIONS", "VendorRole", "ensure_vendor_role", "vendor_role_policies"]

VENDOR_KMS_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)
_POLICY_NAME = "byok-document-storage"


@dataclass(frozen=True)
class VendorRole:
    """The vendor role as it now stands in AWS."""

    arn: str
    created: bool
    policy_changed: bool


def vendor_role_policies(service_principal_arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trust policy (only the service identity may assume it) and the permissions policy.

    Returns:
        ``(trust_policy, permissions_policy)`` as JSON-ready dicts.
    """
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ServiceIdentityOnly",
                "Effect": "Allow",
                "Principal": {"AWS": service_principal_arn},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    permissions = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AssumeCustomerClientRoles",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": "arn:aws:iam::*:role/*",
            },
            {
                "Sid": "UseCustomerKeys",
                "Effect": "Allow",
                "Action": list(VENDOR_KMS_ACTIONS),
                "Resource": "arn:aws:kms:*:*:key/*",
            },
        ],
    }
    return trust, permissions


def ensure_vendor_role(
    factory: ClientFactory, *, role_name: str, service_principal_arn: str
) -> VendorRole:
    """Create or update the vendor role so it matches :func:`vendor_role_policies`.

    Returns:
        The role's ARN and what changed.

    Raises:
        ConfigurationError: the vendor's credentials may not manage IAM roles.
    """
    iam = factory.client("iam", "us-east-1")
    trust, permissions = vendor_role_policies(service_principal_arn)
    try:
        created, arn = _ensure_role(iam, role_name, trust)
        changed = _ensure_inline_policy(iam, role_name, permissions)
    except (ClientError, BotoCoreError) as exc:
        raise ConfigurationError(
            f"could not set up the vendor role {role_name}: {error_code(exc) or exc}",
            operation="iam:CreateRole",
            fix="Run with vendor credentials that may manage IAM roles (iam:CreateRole, "
            "iam:PutRolePolicy, iam:UpdateAssumeRolePolicy).",
        ) from exc
    return VendorRole(arn, created, changed)


def _ensure_role(iam: Any, name: str, trust: dict[str, Any]) -> tuple[bool, str]:
    document = json.dumps(trust, sort_keys=True)
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        made = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=document,
            Description="byok: assumes customers' client roles and uses customers' KMS keys",
            MaxSessionDuration=3600,
        )
        return True, str(made["Role"]["Arn"])
    if _as_dict(role.get("AssumeRolePolicyDocument")) != trust:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=document)
    return False, str(role["Arn"])


def _ensure_inline_policy(iam: Any, name: str, permissions: dict[str, Any]) -> bool:
    try:
        current = iam.get_role_policy(RoleName=name, PolicyName=_POLICY_NAME)["PolicyDocument"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        current = None
    if current is not None and _as_dict(current) == permissions:
        return False
    iam.put_role_policy(
        RoleName=name, PolicyName=_POLICY_NAME, PolicyDocument=json.dumps(permissions)
    )
    return True


def _as_dict(document: object) -> object:
    """IAM returns policy documents as dicts or URL-encoded JSON strings."""
    if isinstance(document, str):
        from urllib.parse import unquote

        return json.loads(unquote(document))
    return document
