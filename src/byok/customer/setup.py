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

Steps 1 to 3 are :mod:`byok.customer.setup_key`, 4 and 5 :mod:`byok.customer.setup_role`,
6 is here. Every read is made also in a dry run; writes only outside one
(:class:`~byok.customer.plan.Plan`). The documents come from
:mod:`byok.core.policy.templates`, so they are exactly what ``byok customer policy`` prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from byok.core.policy.templates import (
    SID_ADMINS,
    CustomerSetup,
    VendorIdentity,
    handover_config,
    merge_key_policy,
    render_json,
)
from byok.core.policy.templates.policies import admin_statement, literal_values
from byok.customer.aws import CustomerAws
from byok.customer.plan import Change, Plan, PlannedCall, SetupResult, same_document
from byok.customer.setup_key import (
    ANY_VENDOR,
    NEW_KEY_ARN,
    SetupKey,
    ensure_alias,
    ensure_key,
    ensure_rotation,
)
from byok.customer.setup_role import PERMISSIONS_POLICY_NAME, ensure_permissions, ensure_role
from byok.errors import ConfigurationError, InvalidInput

__all__ = [
    "NEW_KEY_ARN",
    "PERMISSIONS_POLICY_NAME",
    "Change",
    "PlannedCall",
    "SetupResult",
    "desired_key_policy",
    "run_setup",
]

_POLICY_RETRIES: Final = 6  # IAM is eventually consistent: a new role may be unknown to KMS


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
    key = ensure_key(plan, setup)
    if key.arn is not None:
        setup = replace(setup, key_arn=key.arn, region=None)
    ensure_alias(plan, setup, key)
    ensure_rotation(plan, setup, key)
    role_created = False
    if setup.mode == "assume-role":
        role_created = ensure_role(plan, vendor, setup)
        ensure_permissions(plan, vendor, setup, role_created)
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
    values = replace(literal_values(ANY_VENDOR, setup), admins=list(setup.admins))
    return [*statements, admin_statement(values)]


def _ensure_key_policy(
    plan: Plan,
    vendor: VendorIdentity,
    setup: CustomerSetup,
    key: SetupKey,
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


def _result(plan: Plan, setup: CustomerSetup, key: SetupKey, account: str) -> SetupResult:
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
