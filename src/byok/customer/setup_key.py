"""``byok customer setup``, steps 1 to 3: the key itself, its alias and its rotation.

See :mod:`byok.customer.setup` for the whole sequence; every call goes through the
:class:`~byok.customer.plan.Plan`, so a dry run reads and records but never writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from byok.core.policy.templates import CustomerSetup, VendorIdentity, render_json
from byok.core.policy.templates.policies import (
    admin_statement,
    key_policy_document,
    literal_values,
    root_statement,
)
from byok.customer.plan import Plan
from byok.errors import ConfigurationError, KeyDisabled, KeyPendingDeletion
from byok.errors import KeyUnsuitable as _Unsuitable

__all__ = [
    "ANY_VENDOR",
    "NEW_KEY_ARN",
    "NEW_KEY_ID",
    "TENANT_TAG",
    "SetupKey",
    "ensure_alias",
    "ensure_key",
    "ensure_rotation",
]

TENANT_TAG: Final = "byok:tenant"
#: Placeholders a dry run prints where the ARN / id of a key not yet created belongs.
NEW_KEY_ARN: Final = "<ARN of the new key>"
NEW_KEY_ID: Final = "<id of the new key>"
#: literal_values() needs a vendor; the root and administrator statements do not name it.
ANY_VENDOR: Final = VendorIdentity("000000000000")
# CreateKey's default usage; AWS always reports it, moto omits it for keys made without it.
_DEFAULT_USAGE: Final = "ENCRYPT_DECRYPT"


@dataclass(frozen=True)
class SetupKey:
    """The key setup adopted or creates (a dry run's new key has no ARN or id yet)."""

    arn: str | None  # None: a dry run that would create it
    key_id: str | None
    created: bool
    alias_target: str | None  # key id the alias names now, None if the alias is free
    policy: Mapping[str, Any] | None = None  # the policy a new key is created with


def ensure_key(plan: Plan, setup: CustomerSetup) -> SetupKey:
    """Adopt ``setup.key_arn`` or the key its alias names, else create one (step 1).

    Raises:
        KeyUnsuitable, KeyDisabled, KeyPendingDeletion: the adopted key cannot be used.
        CustomerAccessError, TransientKmsError: as :meth:`Plan.read` and :meth:`Plan.write`.
    """
    region = setup.key_region
    if setup.key_arn is not None:
        meta = plan.read("kms", "DescribeKey", region=region, KeyId=setup.key_arn)
        _check_suitable(meta["KeyMetadata"], setup)
        target = _alias_target(plan, setup)
        plan.record("key", "no change", f"adopted the existing key {setup.key_arn}")
        return SetupKey(meta["KeyMetadata"]["Arn"], meta["KeyMetadata"]["KeyId"], False, target)
    found = plan.read(
        "kms", "DescribeKey", region=region, KeyId=setup.alias, missing=("NotFoundException",)
    )
    if found is not None:
        meta = found["KeyMetadata"]
        _check_suitable(meta, setup)
        plan.record("key", "no change", f"{setup.alias} already names key {meta['Arn']}")
        return SetupKey(meta["Arn"], meta["KeyId"], False, meta["KeyId"])
    values = literal_values(ANY_VENDOR, setup)
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
        return SetupKey(None, None, True, None, policy)
    meta = answer["KeyMetadata"]
    plan.record("key", "create", f"symmetric ENCRYPT_DECRYPT key {meta['Arn']}", call)
    return SetupKey(str(meta["Arn"]), str(meta["KeyId"]), True, None, policy)


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


def ensure_alias(plan: Plan, setup: CustomerSetup, key: SetupKey) -> None:
    """Point ``setup.alias`` at the key unless it already does (step 2).

    Raises:
        ConfigurationError: the alias names another key.
        CustomerAccessError, TransientKmsError: as :meth:`Plan.write`.
    """
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


def ensure_rotation(plan: Plan, setup: CustomerSetup, key: SetupKey) -> None:
    """Switch on the key's automatic rotation unless it is on (step 3).

    Raises:
        CustomerAccessError, TransientKmsError: as :meth:`Plan.read` and :meth:`Plan.write`.
    """
    if key.arn is not None and not key.created:
        status = plan.read("kms", "GetKeyRotationStatus", region=setup.key_region, KeyId=key.arn)
        if status.get("KeyRotationEnabled"):
            plan.record("key rotation", "no change", "automatic rotation is on")
            return
    call, _ = plan.write(
        "kms", "EnableKeyRotation", region=setup.key_region, KeyId=key.arn or NEW_KEY_ARN
    )
    plan.record("key rotation", "update", "automatic rotation switched on", call)
