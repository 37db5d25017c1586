"""The exact IAM and key-policy JSON a customer needs, for both options (customer guide, 2).

Every document is built by one function over :class:`PolicyValues`, the handful of things a
policy names (principals, accounts, tenant, key, External ID). The JSON generators fill them
with literal strings; the CloudFormation and Terraform generators fill them with intrinsic
functions or expressions, so all three outputs have the same statements in the same order.

Statements, in the order they appear in a key policy:

* ``Enable IAM User Permissions``: the customer account's root, ``kms:*`` (AWS's default; it
  keeps the key manageable through IAM and never lets another account in);
* ``Allow access for Key Administrators``: the admin ARNs, management actions only (no
  cryptographic action, so an administrator cannot read the tenant's data);
* the key user: the vendor's role (Option A) or the customer's client role (Option B),
  exactly the five actions of the guide. By default (*hardening*, docs/SECURITY.md) the four
  cryptographic actions require ``kms:EncryptionContext:byok:tenant`` = tenant id and
  ``kms:CallerAccount`` = the key user's account, so the vendor can use the key for this
  tenant only: no other tenant (nor a stolen token of one) can point the vendor at it.
  ``kms:DescribeKey`` carries no encryption context, so it gets its own statement with the
  caller-account condition only. The guide's unconditioned statement (``hardening=False``)
  stays available; :data:`UNCONDITIONED_WARNING` says why it is weaker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from byok.core.context import TENANT_CONTEXT_KEY
from byok.core.policy.templates.inputs import CustomerSetup, VendorIdentity
from byok.core.policy.templates.levers import AccessLevers, lever_sids, lever_statements
from byok.errors import InvalidInput

__all__ = [
    "CONTEXT_ACTIONS",
    "KEY_ADMIN_ACTIONS",
    "KEY_USE_ACTIONS",
    "POLICY_VERSION",
    "SID_ADMINS",
    "SID_PERMISSIONS",
    "SID_ROOT",
    "SID_TRUST",
    "TENANT_CONDITION_KEY",
    "UNCONDITIONED_WARNING",
    "PolicyValues",
    "admin_statement",
    "client_permissions_policy",
    "client_trust_policy",
    "key_policy_document",
    "key_user_statements",
    "literal_values",
    "merge_key_policy",
    "new_key_policy",
    "permissions_policy_document",
    "render_json",
    "root_statement",
    "trust_policy_document",
    "vendor_key_statements",
    "vendor_sids",
]

POLICY_VERSION: Final = "2012-10-17"
#: The five actions of the customer guide, in its order.
KEY_USE_ACTIONS: Final = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
)
#: The actions that carry an encryption context (all but DescribeKey).
CONTEXT_ACTIONS: Final = KEY_USE_ACTIONS[:4]
#: AWS's default key-administrator actions (KMS Developer Guide, "Default key policy"):
#: manage, tag, rotate, schedule deletion; no Encrypt/Decrypt/GenerateDataKey/ReEncrypt.
KEY_ADMIN_ACTIONS: Final = (
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
    "kms:RotateKeyOnDemand",
)
TENANT_CONDITION_KEY: Final = f"kms:EncryptionContext:{TENANT_CONTEXT_KEY}"
CALLER_ACCOUNT_KEY: Final = "kms:CallerAccount"
EXTERNAL_ID_KEY: Final = "sts:ExternalId"

SID_ROOT: Final = "Enable IAM User Permissions"
SID_ADMINS: Final = "Allow access for Key Administrators"
# IAM (trust and permissions policies) allows only letters and digits in a Sid.
SID_TRUST: Final = "TrustVendorDocumentStorageRoleWithExternalId"
SID_PERMISSIONS: Final = "UseTenantKmsKey"
_WHO = {"direct": "the vendor role", "assume-role": "the client role"}
#: Printed whenever the unconditioned statement is asked for (``--unconditioned``).
UNCONDITIONED_WARNING: Final = (
    "WEAKER: the unconditioned statement lets the vendor use this key under ANY tenant's "
    f"encryption context (no {TENANT_CONDITION_KEY} condition). Another tenant of the vendor, "
    "or a stolen tenant token, could then point the vendor at your key, and its CloudTrail "
    "would show other tenants' names. byok's verification refuses such a key (check "
    "key_refuses_other_tenants); omit --unconditioned to bind the key to your tenant."
)


@dataclass(frozen=True)
class PolicyValues:
    """What the documents name. Literal strings for JSON; intrinsic functions (CloudFormation)
    or expressions (Terraform) otherwise.

    Attributes:
        key_user: the principal the key policy lets use the key.
        caller_account: the key user's account (``kms:CallerAccount`` under hardening).
        tenant: the tenant id (``kms:EncryptionContext:byok:tenant`` under hardening).
        root: the customer account's root ARN.
        admins: the key administrators' ARNs (a list, or an expression yielding one).
        key_resource: the key ARN (the client role's permissions policy).
        trusted_role: the vendor's document-storage role ARN (the trust policy).
        external_id: the External ID the trust policy requires.
    """

    key_user: Any
    caller_account: Any
    tenant: Any
    root: Any
    admins: Any = None
    key_resource: Any = None
    trusted_role: Any = None
    external_id: Any = None


def literal_values(vendor: VendorIdentity, setup: CustomerSetup) -> PolicyValues:
    """The literal values of ``setup`` (for JSON documents).

    Returns:
        :class:`PolicyValues` of plain strings; ``key_resource`` is None for a new key.
    """
    key_user: str | None = vendor.role_arn("direct")
    caller = vendor.account
    if setup.mode == "assume-role":
        key_user, caller = setup.client_role_arn, setup.customer_account
    return PolicyValues(
        key_user=key_user,
        caller_account=caller,
        tenant=setup.tenant,
        root=setup.root_arn,
        admins=list(setup.admins),
        key_resource=setup.key_arn,
        trusted_role=vendor.role_arn("assume-role"),
        external_id=setup.external_id,
    )


def vendor_sids(mode: str, hardening: bool) -> tuple[str, ...]:
    """The Sids of :func:`key_user_statements` (to find or replace them in a key policy).

    Returns:
        One Sid, or two (use, describe) under hardening.
    """
    who = _WHO.get(mode, "the key user")
    if not hardening:
        return (f"Allow {who} to use the key",)
    return (f"Allow {who} to use the key for this tenant only", f"Allow {who} to describe the key")


def key_user_statements(
    v: PolicyValues, *, mode: str, hardening: bool, levers: AccessLevers | None = None
) -> list[dict[str, Any]]:
    """The key-policy statement(s) that let the key user use the key, then the Deny
    statements of the customer's ``levers`` (scopes, periods, reasons).

    Returns:
        One statement with the five actions; under hardening two (the four context actions
        with tenant and caller-account conditions, DescribeKey with the caller-account one);
        then zero or more lever Denies.
    """
    sids = vendor_sids(mode, hardening)
    principal = {"AWS": v.key_user}
    denies = lever_statements(v.key_user, _WHO.get(mode, "the key user"), levers or AccessLevers())
    if not hardening:
        return [_statement(sids[0], principal, list(KEY_USE_ACTIONS), "*"), *denies]
    use_condition = {
        "StringEquals": {CALLER_ACCOUNT_KEY: v.caller_account, TENANT_CONDITION_KEY: v.tenant}
    }
    describe_condition = {"StringEquals": {CALLER_ACCOUNT_KEY: v.caller_account}}
    return [
        _statement(sids[0], principal, list(CONTEXT_ACTIONS), "*", use_condition),
        _statement(sids[1], principal, ["kms:DescribeKey"], "*", describe_condition),
        *denies,
    ]


def root_statement(v: PolicyValues) -> dict[str, Any]:
    """The account-root statement every key policy should keep (AWS's default).

    Returns:
        ``Enable IAM User Permissions``: the customer root, ``kms:*``, ``Resource: "*"``.
    """
    return _statement(SID_ROOT, {"AWS": v.root}, "kms:*", "*")


def admin_statement(v: PolicyValues) -> dict[str, Any]:
    """The key administrators' statement (management actions, no cryptographic actions).

    Returns:
        ``Allow access for Key Administrators`` naming ``v.admins``.
    """
    return _statement(SID_ADMINS, {"AWS": v.admins}, list(KEY_ADMIN_ACTIONS), "*")


def key_policy_document(statements: Sequence[Any]) -> dict[str, Any]:
    """Wrap ``statements`` as a key policy with a stable Id.

    Returns:
        ``{"Version": ..., "Id": "byok-key-policy", "Statement": [...]}``.
    """
    return {"Version": POLICY_VERSION, "Id": "byok-key-policy", "Statement": list(statements)}


def trust_policy_document(v: PolicyValues) -> dict[str, Any]:
    """The client role's trust policy: only the document-storage role, only with the
    External ID (``StringEquals``, so a request without one is refused: confused deputy).

    Returns:
        The trust policy.
    """
    condition = {"StringEquals": {EXTERNAL_ID_KEY: v.external_id}}
    statement = _statement(SID_TRUST, {"AWS": v.trusted_role}, "sts:AssumeRole", None, condition)
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def permissions_policy_document(v: PolicyValues, *, hardening: bool) -> dict[str, Any]:
    """The client role's permissions policy: the five actions on exactly the tenant's key.

    Under hardening the four context actions also require this tenant's encryption context
    here, not only in the key policy: the client role is in the key's account, so the key
    policy's root statement lets its IAM policy grant use on its own, and a key-policy
    condition alone would not bind it.

    Returns:
        The identity policy (one statement; two under hardening).
    """
    if not hardening:
        statement = {
            "Sid": SID_PERMISSIONS,
            "Effect": "Allow",
            "Action": list(KEY_USE_ACTIONS),
            "Resource": v.key_resource,
        }
        return {"Version": POLICY_VERSION, "Statement": [statement]}
    use = {
        "Sid": SID_PERMISSIONS + "ForThisTenantOnly",
        "Effect": "Allow",
        "Action": list(CONTEXT_ACTIONS),
        "Resource": v.key_resource,
        "Condition": {"StringEquals": {TENANT_CONDITION_KEY: v.tenant}},
    }
    describe = {
        "Sid": "DescribeTenantKmsKey",
        "Effect": "Allow",
        "Action": ["kms:DescribeKey"],
        "Resource": v.key_resource,
    }
    return {"Version": POLICY_VERSION, "Statement": [use, describe]}


def vendor_key_statements(vendor: VendorIdentity, setup: CustomerSetup) -> list[dict[str, Any]]:
    """The statement(s) to add to an existing key's policy (Option A: the vendor role;
    Option B: the client role).

    Returns:
        The statements of :func:`key_user_statements` with literal values.
    """
    values = literal_values(vendor, setup)
    return key_user_statements(
        values, mode=setup.mode, hardening=setup.hardening, levers=setup.levers
    )


def new_key_policy(vendor: VendorIdentity, setup: CustomerSetup) -> dict[str, Any]:
    """The full key policy of a new key: root, administrators (if any), key user.

    Returns:
        The key policy document.
    """
    values = literal_values(vendor, setup)
    statements = [root_statement(values)]
    if setup.admins:
        statements.append(admin_statement(values))
    statements += key_user_statements(
        values, mode=setup.mode, hardening=setup.hardening, levers=setup.levers
    )
    return key_policy_document(statements)


def client_trust_policy(vendor: VendorIdentity, setup: CustomerSetup) -> dict[str, Any]:
    """Option B: the client role's trust policy with literal values.

    Returns:
        The trust policy.

    Raises:
        InvalidInput: field ``mode`` for Option A, which has no client role.
    """
    _require_assume_role(setup)
    return trust_policy_document(literal_values(vendor, setup))


def client_permissions_policy(vendor: VendorIdentity, setup: CustomerSetup) -> dict[str, Any]:
    """Option B: the client role's permissions policy on exactly ``setup.key_arn``.

    Returns:
        The permissions policy.

    Raises:
        InvalidInput: field ``mode`` for Option A; field ``key_arn`` when no key is given
            (a new key's ARN is known only once it exists: use the templates).
    """
    _require_assume_role(setup)
    if setup.key_arn is None:
        raise InvalidInput(
            "key_arn",
            "the permissions policy names the key ARN, and none was given",
            fix="Create the key first and give its ARN, or use the CloudFormation/Terraform "
            "template, which fills it in.",
        )
    values = literal_values(vendor, setup)
    return permissions_policy_document(values, hardening=setup.hardening)


def merge_key_policy(
    existing: Mapping[str, Any], vendor: VendorIdentity, setup: CustomerSetup
) -> dict[str, Any]:
    """Add the key-user statements to an existing key policy, idempotently.

    Statements with any of byok's Sids (plain or hardened) are replaced, so running twice, or
    switching hardening on or off, leaves exactly one copy. Everything else is kept as is.

    Returns:
        A new policy document; ``existing`` is not modified.

    Raises:
        InvalidInput: field ``key_policy`` if ``existing`` has no Statement list.
    """
    body = existing.get("Statement")
    statements = [body] if isinstance(body, dict) else body
    if not isinstance(statements, list):
        raise InvalidInput(
            "key_policy",
            "has no Statement list",
            fix="Give the key's current policy (KMS GetKeyPolicy).",
        )
    ours = set(vendor_sids(setup.mode, False)) | set(vendor_sids(setup.mode, True))
    ours |= set(lever_sids(_WHO.get(setup.mode, "the key user")))
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") in ours)]
    merged = dict(existing)
    merged["Statement"] = kept + vendor_key_statements(vendor, setup)
    return merged


def render_json(document: Any) -> str:
    """Render a document exactly: 2-space indent, keys in build order, ASCII, final newline.

    Returns:
        The JSON text.
    """
    return json.dumps(document, indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def _statement(
    sid: str, principal: Any, action: Any, resource: Any, condition: Any = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
    }
    if resource is not None:
        statement["Resource"] = resource
    if condition is not None:
        statement["Condition"] = condition
    return statement


def _require_assume_role(setup: CustomerSetup) -> None:
    if setup.mode != "assume-role":
        raise InvalidInput(
            "mode",
            "Option A (direct) has no client role",
            fix="Use mode 'assume-role' for a client role.",
        )
