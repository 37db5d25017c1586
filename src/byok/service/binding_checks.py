"""The verification checks that prove the tenant <-> key binding (docs/SECURITY.md).

Each returns ``(passed, evidence, fix)`` for :mod:`byok.service.verification`:

===========================  =================================================================
check                        passes when
===========================  =================================================================
not_vendor_account           key and client role are not in the vendor's own AWS account
not_bound_elsewhere          no other (not offboarded) tenant holds the key or client role
external_id_exact            (B) a fresh External ID in the vendor's own format is refused
key_refuses_other_tenants    the key refuses the vendor under a random other tenant's context
===========================  =================================================================

Together they make a key usable by exactly one tenant: another tenant, or a stolen token of
one, cannot point the vendor at a key its customer does not control.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from byok.aws.access import KeyAccessProvider
from byok.aws.clients import ClientFactory
from byok.aws.credentials import role_session_name
from byok.aws.errors import error_code
from byok.aws.kms import KmsKeyWrapper
from byok.core.context import VERIFICATION_USE, tenant_key_context
from byok.core.policy.templates.policies import PolicyValues, key_user_statements
from byok.core.tenant_config import TenantKeyConfig, new_external_id
from byok.errors import KeyAccessDenied, RoleAssumptionDenied
from byok.store.bindings import BOUND_FIX

__all__ = [
    "Probe",
    "RefusalHook",
    "external_id_exact",
    "key_refuses_other_tenants",
    "not_bound_elsewhere",
    "not_vendor_account",
    "probe_tenant",
]

#: What every check returns: passed, evidence, fix.
Probe = tuple[bool, str, str]


def probe_tenant(token: Callable[[int], str] = secrets.token_hex) -> str:
    """A random tenant id no real tenant has (the other-tenant probe's encryption context).

    Returns:
        ``byok-probe-<16 hex>``.
    """
    return "byok-probe-" + token(8)


def not_vendor_account(config: TenantKeyConfig, vendor_account: str) -> Probe:
    """A key (or client role) in the vendor's own account is the vendor's, not the customer's:
    the vendor could use it whatever the customer does, and revocation would mean nothing."""
    accounts = {"key": config.key.account}
    if config.client_role is not None:
        accounts["client role"] = config.client_role.account
    inside = [what for what, account in accounts.items() if account == vendor_account]
    evidence = ", ".join(f"{what} in account {account}" for what, account in accounts.items())
    if inside:
        evidence += f": the vendor's own account is {vendor_account}"
    fix = "Create the key (and client role) in your own AWS account, not the vendor's."
    return not inside, evidence, fix


def not_bound_elsewhere(held: list[str]) -> Probe:
    """``held``: the kinds of resource another tenant holds (``byok.store.bindings``)."""
    if not held:
        return True, "key and client role are bound to no other tenant", BOUND_FIX
    what = " and ".join("key" if kind == "key" else "client role" for kind in held)
    return False, f"the {what} is already bound to another tenant's key configuration", BOUND_FIX


def external_id_exact(
    config: TenantKeyConfig, access: KeyAccessProvider, factory: ClientFactory
) -> Probe:
    """Assuming the client role with a *wrong* External ID in byok's own format (a fresh one,
    as issued to other tenants) must fail: ``StringLike byok-*`` is a confused deputy too."""
    sts = factory.client("sts", factory.settings.sts_region, access.vendor_credentials)
    fix = (
        'Use Condition {"StringEquals": {"sts:ExternalId": "<your External ID>"}} with the '
        "exact value: a pattern (StringLike byok-*) lets any other tenant's External ID "
        "through, so another customer of the vendor could make it use your role."
    )
    try:
        sts.assume_role(
            RoleArn=str(config.client_role_arn),
            RoleSessionName=role_session_name(config.tenant, "-check"),
            ExternalId=new_external_id(),
            DurationSeconds=900,
        )
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc)
        if code == "AccessDenied":
            return True, "assuming the role with another tenant's External ID is denied", fix
        return False, f"could not run the check ({code or type(exc).__name__})", fix
    return False, "the role can be assumed with ANOTHER External ID: refused", fix


#: Called with the KMS request id and encryption context of the refused probe (it is in the
#: customer's CloudTrail as a refusal; the vendor audits it too, one to one).
RefusalHook = Callable[[str | None, Mapping[str, str]], object]


def key_refuses_other_tenants(
    config: TenantKeyConfig,
    wrapper: KmsKeyWrapper,
    on_refused: RefusalHook | None = None,
    tenant: str | None = None,
) -> Probe:
    """GenerateDataKey under a random other tenant's encryption context must be refused:
    that refusal is what makes the key usable by exactly one tenant."""
    other = tenant or probe_tenant()
    context = tenant_key_context(other, "tk_verification", **VERIFICATION_USE)
    fix = _tenant_condition_fix(config, wrapper.principal)
    try:
        made = wrapper.for_probing().generate_data_key(context)
    except (KeyAccessDenied, RoleAssumptionDenied) as refused:
        if on_refused is not None:
            on_refused(_request_id(refused), context)
        return True, f"the key refused the vendor under the context of tenant {other!r}", fix
    return (
        False,
        (
            f"the key let the vendor generate a data key for tenant {other!r} (request "
            f"{made.request_id}): any other tenant could point the vendor at this key"
        ),
        fix,
    )


def _request_id(error: BaseException) -> str | None:
    cause = error.__cause__
    if isinstance(cause, ClientError):
        rid = cause.response.get("ResponseMetadata", {}).get("RequestId")
        return str(rid) if rid else None
    return None


def _tenant_condition_fix(config: TenantKeyConfig, principal: str | None) -> str:
    user = str(config.client_role_arn or principal or "<the vendor role>")
    account = user.split(":")[4] if user.startswith("arn:") else "<account>"
    values = PolicyValues(key_user=user, caller_account=account, tenant=config.tenant, root="")
    statements = key_user_statements(values, mode=config.mode, hardening=True)
    fix = (
        "Bind the key to this tenant: replace the key-policy statement that allows "
        f"{user} with {json.dumps(statements, separators=(',', ':'))}"
    )
    if config.mode == "assume-role":
        fix += " and add the same tenant condition to the client role's permissions policy"
    return fix + " (`byok customer setup` without --unconditioned writes exactly this)."
