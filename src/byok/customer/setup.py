"""``byok customer setup``: create or adopt the key and (Option B) the client role, idempotently.

Customer guide, sections 1 to 3, as one command run with the customer's own credentials:

1. **key**: adopt ``--key-arn`` or the key the alias names, else ``kms:CreateKey``
   (``SYMMETRIC_DEFAULT``, ``ENCRYPT_DECRYPT``, single-Region, description, tag
   ``byok:tenant``) with a policy of the account root and the key administrators;
2. **alias**: ``kms:CreateAlias`` unless it already names the key (the alias is also how a
   second run finds a key the first run created);
3. **key rotation**: ``kms:EnableKeyRotation`` unless already on;
4. Option B, **client role**: ``iam:CreateRole`` with the trust policy (``StringEquals
   sts:ExternalId``, one-hour sessions), or ``iam:UpdateAssumeRolePolicy`` if it differs;
5. Option B, **permissions policy**: ``iam:PutRolePolicy`` (``byok-use-tenant-key``) unless
   equal;
6. **key policy**: the current policy with the vendor statement(s) merged in (other
   statements kept, byok's own replaced) and the administrators added; ``kms:PutKeyPolicy``
   unless equal. Last, because KMS refuses a policy naming a role that does not exist yet.

Every read is made also in a dry run; writes only outside one (:class:`~byok.customer.plan.
Plan`). The documents come from :mod:`byok.core.policy.templates`, so they are exactly what
``byok customer policy`` prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from byok.core.policy.templates import (
    SID_ADMINS,
    CustomerSetup,
    VendorIdentity,
    client_trust_policy,
    handover_config,
    merge_key_policy,
    render_json,
)
from byok.core.policy.templates.policies import (
    admin_statement,
    key_policy_document,
    literal_values,
    permissions_policy_document,
    root_statement,
)
from byok.customer.aws import CustomerAws
from byok.customer.plan import Change, Plan, PlannedCall, SetupResult, same_document
from byok.errors import ConfigurationError, InvalidInput, KeyDisabled, KeyPendingDeletion
from byok.errors import KeyUnsuitable as _Unsuitable

__all__ = [
    "NEW_KEY_ARN",
    "PERMISSIONS_POLICY_NAME",
    "Change",
    "PlannedCall",
    "SetupResult",
    "desired_key_policy",
    "run_setup",
]

PERMISSIONS_POLICY_NAME: Final = "byok-use-tenant-key"
TENANT_TAG: Final = "byok:tenant"
#: Placeholders a dry run prints where the ARN / id of a key not yet created belongs.
NEW_KEY_ARN: Final = "<ARN of the new key>"
NEW_KEY_ID: Final = "<id of the new key>"
_ROLE_SESSION_S: Final = 3600  # chained role sessions last at most one hour anyway
_POLICY_RETRIES: Final = 6  # IAM is eventually consistent: a new role may be unknown to KMS
# literal_values() needs a vendor; the root and administrator statements do not name it.
_ANY_VENDOR: Final = VendorIdentity("000000000000")
# CreateKey's default usage; AWS always reports it, moto omits it for keys made without it.
_DEFAULT_USAGE: Final = "ENCRYPT_DECRYPT"


@dataclass(frozen=True)
class _Key:
    arn: str | None  # None: a dry run that would create it
    key_id: str | None
    created: bool
    alias_target: str | None  # key id the alias names now, None if the alias is free
    policy: Mapping[str, Any] | None = None  # the policy a new key is created with


def run_setup(
    aws: CustomerAws,
    vendor: VendorIdentity,
    setup: CustomerSetup,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> SetupResult:
    """Create or adopt the key (and client role) of ``setup``; a second run changes nothing.

    Args:
        aws: the customer's AWS access (its credentials must be of ``setup.customer_account``).
        vendor: the vendor's account and role names.
        setup: the tenant's choices (mode, key, External ID, administrators, hardening...).
        dry_run: make read calls only; the result lists every write call it would make.
        sleep: waits between retries of ``kms:PutKeyPolicy`` while a new role propagates.

    Returns:
        The :class:`SetupResult`: per-resource changes and the hand-over for the vendor.

    Raises:
        ConfigurationError: credentials of another account, no usable credentials, or an
            alias that names another key.
        KeyUnsuitable, KeyDisabled, KeyPendingDeletion: the adopted key cannot be used.
        CustomerAccessError: the credentials may not make a call (the fix names it).
        TransientKmsError: AWS throttled or failed after retries.
    """
    before = aws.counts()
    account = aws.account_id()
    if account != setup.customer_account:
        raise ConfigurationError(
            f"the credentials are of account {account}, not {setup.customer_account}",
            tenant=setup.tenant,
            fix="Use credentials of the account that owns the key.",
        )
    plan = Plan(aws, dry_run=dry_run)
    key = _ensure_key(plan, setup)
    if key.arn is not None:
        setup = replace(setup, key_arn=key.arn, region=None)
    _ensure_alias(plan, setup, key)
    _ensure_rotation(plan, setup, key)
    role_created = False
    if setup.mode == "assume-role":
        role_created = _ensure_role(plan, vendor, setup)
        _ensure_permissions(plan, vendor, setup, role_created)
    _ensure_key_policy(plan, vendor, setup, key, sleep if role_created else None)
    result = _result(plan, setup, key, account)
    made = {op: n - before.get(op, 0) for op, n in aws.counts().items()}
    return replace(result, api_calls={op: n for op, n in sorted(made.items()) if n})


def desired_key_policy(
    existing: Mapping[str, Any], vendor: VendorIdentity, setup: CustomerSetup
) -> dict[str, Any]:
    """The key policy ``setup`` needs, from the key's current policy (pure).

    Keeps every statement of ``existing``; adds ``setup.admins`` to the key administrators'
    statement (creating it before the vendor statements if absent, never removing anyone);
    then replaces byok's vendor statement(s) (:func:`~byok.core.policy.templates.
    merge_key_policy`).

    Returns:
        A new policy document.

    Raises:
        InvalidInput: field ``key_policy`` if ``existing`` has no Statement list.
    """
    policy = dict(existing)
    if setup.admins:
        body = policy.get("Statement")
        statements = [body] if isinstance(body, dict) else list(body or [])
        policy["Statement"] = _with_admins(statements, setup)
    return merge_key_policy(policy, vendor, setup)


def _with_admins(statements: list[Any], setup: CustomerSetup) -> list[Any]:
    for index, statement in enumerate(statements):
        if isinstance(statement, dict) and statement.get("Sid") == SID_ADMINS:
            principal = statement.get("Principal")
            named = principal.get("AWS") if isinstance(principal, dict) else None
            current = [named] if isinstance(named, str) else list(named or [])
            merged = current + [a for a in setup.admins if a not in current]
            statements[index] = {**statement, "Principal": {"AWS": merged}}
            return statements
    values = replace(literal_values(_ANY_VENDOR, setup), admins=list(setup.admins))
    return [*statements, admin_statement(values)]


def _ensure_key(plan: Plan, setup: CustomerSetup) -> _Key:
    region = setup.key_region
    if setup.key_arn is not None:
        meta = plan.read("kms", "DescribeKey", region=region, KeyId=setup.key_arn)
        _check_suitable(meta["KeyMetadata"], setup)
        target = _alias_target(plan, setup)
        plan.record("key", "no change", f"adopted the existing key {setup.key_arn}")
        return _Key(meta["KeyMetadata"]["Arn"], meta["KeyMetadata"]["KeyId"], False, target)
    found = plan.read(
        "kms", "DescribeKey", region=region, KeyId=setup.alias, missing=("NotFoundException",)
    )
    if found is not None:
        meta = found["KeyMetadata"]
        _check_suitable(meta, setup)
        plan.record("key", "no change", f"{setup.alias} already names key {meta['Arn']}")
        return _Key(meta["Arn"], meta["KeyId"], False, meta["KeyId"])
    values = literal_values(_ANY_VENDOR, setup)
    statements = [root_statement(values)] + ([admin_statement(values)] if setup.admins else [])
    policy = key_policy_document(statements)
    call, answer = plan.write(
        "kms",
        "CreateKey",
        region=region,
        Policy=render_json(policy),
        Description=setup.key_description,
        KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage="ENCRYPT_DECRYPT",
        Origin="AWS_KMS",
        MultiRegion=False,
        Tags=[{"TagKey": TENANT_TAG, "TagValue": setup.tenant}],
    )
    if answer is None:
        plan.record("key", "create", f"symmetric ENCRYPT_DECRYPT key in {region}", call)
        return _Key(None, None, True, None, policy)
    meta = answer["KeyMetadata"]
    plan.record("key", "create", f"symmetric ENCRYPT_DECRYPT key {meta['Arn']}", call)
    return _Key(str(meta["Arn"]), str(meta["KeyId"]), True, None, policy)


def _alias_target(plan: Plan, setup: CustomerSetup) -> str | None:
    found = plan.read(
        "kms",
        "DescribeKey",
        region=setup.key_region,
        KeyId=setup.alias,
        missing=("NotFoundException",),
    )
    return None if found is None else str(found["KeyMetadata"]["KeyId"])


def _check_suitable(meta: Mapping[str, Any], setup: CustomerSetup) -> None:
    arn, state = meta.get("Arn"), meta.get("KeyState")
    where = {"tenant": setup.tenant, "operation": "kms:DescribeKey"}
    if state in ("PendingDeletion", "PendingReplicaDeletion"):
        raise KeyPendingDeletion(
            f"key {arn} is scheduled for deletion",
            **where,
            fix="Cancel the deletion (kms:CancelKeyDeletion), enable the "
            "key, and run again; or use another key.",
        )
    if state == "Disabled":
        raise KeyDisabled(
            f"key {arn} is disabled",
            **where,
            fix="Enable it (kms:EnableKey) and run again, or use another key.",
        )
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
    usage = meta.get("KeyUsage") or _DEFAULT_USAGE
    problems = [
        f"{name} is {value}"
        for name, value, wanted in (
            ("KeySpec", spec, "SYMMETRIC_DEFAULT"),
            ("KeyUsage", usage, "ENCRYPT_DECRYPT"),
            ("KeyManager", meta.get("KeyManager"), "CUSTOMER"),
            ("KeyState", state, "Enabled"),
        )
        if value != wanted
    ]
    if problems:
        raise _Unsuitable(
            f"key {arn} cannot be used: {', '.join(problems)}",
            **where,
            fix="Use (or let setup create) a customer managed symmetric ENCRYPT_DECRYPT key.",
        )


def _ensure_alias(plan: Plan, setup: CustomerSetup, key: _Key) -> None:
    if key.alias_target is not None and key.alias_target == key.key_id:
        plan.record("alias", "no change", f"{setup.alias} names the key")
        return
    if key.alias_target is not None:
        raise ConfigurationError(
            f"{setup.alias} already names another key ({key.alias_target})",
            tenant=setup.tenant,
            operation="kms:CreateAlias",
            fix="Give another --alias, or adopt that key with --key-arn.",
        )
    call, _ = plan.write(
        "kms",
        "CreateAlias",
        region=setup.key_region,
        AliasName=setup.alias,
        TargetKeyId=key.key_id or NEW_KEY_ID,
    )
    plan.record("alias", "create", f"{setup.alias} -> the key", call)


def _ensure_rotation(plan: Plan, setup: CustomerSetup, key: _Key) -> None:
    if key.arn is not None and not key.created:
        status = plan.read("kms", "GetKeyRotationStatus", region=setup.key_region, KeyId=key.arn)
        if status.get("KeyRotationEnabled"):
            plan.record("key rotation", "no change", "automatic rotation is on")
            return
    call, _ = plan.write(
        "kms", "EnableKeyRotation", region=setup.key_region, KeyId=key.arn or NEW_KEY_ARN
    )
    plan.record("key rotation", "update", "automatic rotation switched on", call)


def _ensure_role(plan: Plan, vendor: VendorIdentity, setup: CustomerSetup) -> bool:
    name = setup.client_role_name
    trust = client_trust_policy(vendor, setup)
    found = plan.read("iam", "GetRole", RoleName=name, missing=("NoSuchEntity",))
    if found is None:
        call, _ = plan.write(
            "iam",
            "CreateRole",
            RoleName=name,
            AssumeRolePolicyDocument=render_json(trust),
            Description=f"byok: lets the vendor use the key of tenant {setup.tenant}",
            MaxSessionDuration=_ROLE_SESSION_S,
            Tags=[{"Key": TENANT_TAG, "Value": setup.tenant}],
        )
        plan.record(
            "client role",
            "create",
            f"{setup.client_role_arn} trusting "
            f"{vendor.role_arn('assume-role')} with the External ID",
            call,
        )
        return True
    if same_document(found["Role"].get("AssumeRolePolicyDocument"), trust):
        plan.record("client role", "no change", "trust policy is as required")
        return False
    call, _ = plan.write(
        "iam", "UpdateAssumeRolePolicy", RoleName=name, PolicyDocument=render_json(trust)
    )
    plan.record(
        "client role",
        "update",
        "trust policy replaced: only the vendor's document-storage role, only with the External ID",
        call,
    )
    return False


def _ensure_permissions(
    plan: Plan, vendor: VendorIdentity, setup: CustomerSetup, role_created: bool
) -> None:
    values = literal_values(vendor, setup)
    if setup.key_arn is None:
        values = replace(values, key_resource=NEW_KEY_ARN)
    desired = permissions_policy_document(values, hardening=setup.hardening)
    name = setup.client_role_name
    found = (
        None
        if role_created
        else plan.read(
            "iam",
            "GetRolePolicy",
            RoleName=name,
            PolicyName=PERMISSIONS_POLICY_NAME,
            missing=("NoSuchEntity",),
        )
    )
    if found is not None and same_document(found.get("PolicyDocument"), desired):
        plan.record("permissions policy", "no change", f"{PERMISSIONS_POLICY_NAME} is as required")
        return
    call, _ = plan.write(
        "iam",
        "PutRolePolicy",
        RoleName=name,
        PolicyName=PERMISSIONS_POLICY_NAME,
        PolicyDocument=render_json(desired),
    )
    plan.record(
        "permissions policy",
        "create" if found is None else "update",
        f"{PERMISSIONS_POLICY_NAME}: the five actions on exactly this key",
        call,
    )


def _ensure_key_policy(
    plan: Plan,
    vendor: VendorIdentity,
    setup: CustomerSetup,
    key: _Key,
    sleep: Callable[[float], None] | None,
) -> None:
    if key.arn is None:
        current: Any = key.policy
    else:
        current = plan.read(
            "kms", "GetKeyPolicy", region=setup.key_region, KeyId=key.arn, PolicyName="default"
        )["Policy"]
    existing = json.loads(current) if isinstance(current, str) else dict(current or {})
    desired = desired_key_policy(existing, vendor, setup)
    if same_document(existing, desired):
        plan.record("key policy", "no change", "vendor statement and administrators present")
        return
    call = _put_key_policy(plan, setup, key.arn or NEW_KEY_ARN, desired, sleep)
    who = "vendor role" if setup.mode == "direct" else "client role"
    plan.record("key policy", "update", f"{who} statement merged in; other statements kept", call)


def _put_key_policy(
    plan: Plan,
    setup: CustomerSetup,
    key_arn: str,
    policy: Mapping[str, Any],
    sleep: Callable[[float], None] | None,
) -> PlannedCall:
    attempts = _POLICY_RETRIES if sleep is not None else 1
    for attempt in range(attempts):
        try:
            call, _ = plan.write(
                "kms",
                "PutKeyPolicy",
                region=setup.key_region,
                KeyId=key_arn,
                PolicyName="default",
                Policy=render_json(policy),
            )
            return call
        except InvalidInput as exc:
            # KMS refuses a principal IAM has not propagated yet ("invalid principals").
            if sleep is None or attempt + 1 == attempts or "principal" not in exc.message:
                raise
            sleep(2.0 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _result(plan: Plan, setup: CustomerSetup, key: _Key, account: str) -> SetupResult:
    if key.arn is not None:
        handover = handover_config(setup, key.arn)
    else:
        handover = {
            "tenant": setup.tenant,
            "mode": setup.mode,
            "key_arn": NEW_KEY_ARN,
            "region": setup.key_region,
        }
        if setup.mode == "assume-role":
            handover |= {"client_role_arn": setup.client_role_arn, "external_id": setup.external_id}
    return SetupResult(
        plan.dry_run,
        account,
        key.arn,
        setup.key_region,
        setup.client_role_arn,
        tuple(plan.changes),
        handover,
    )
