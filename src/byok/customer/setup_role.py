"""``byok customer setup``, Option B steps 4 and 5: the client role and its permissions policy.

See :mod:`byok.customer.setup` for the whole sequence; every call goes through the
:class:`~byok.customer.plan.Plan`, so a dry run reads and records but never writes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from byok.core.policy.templates import (
    CustomerSetup,
    VendorIdentity,
    client_trust_policy,
    render_json,
)
from byok.core.policy.templates.policies import literal_values, permissions_policy_document
from byok.customer.plan import Plan, same_document
from byok.customer.setup_key import NEW_KEY_ARN, TENANT_TAG

__all__ = ["PERMISSIONS_POLICY_NAME", "ensure_permissions", "ensure_role"]

PERMISSIONS_POLICY_NAME: Final = "byok-use-tenant-key"
_ROLE_SESSION_S: Final = 3600  # chained role sessions last at most one hour anyway


def ensure_role(plan: Plan, vendor: VendorIdentity, setup: CustomerSetup) -> bool:
    """Create the client role, or make its trust policy the required one (step 4).

    Returns:
        Whether the role was created (or, in a dry run, would be).

    Raises:
        CustomerAccessError, TransientKmsError: as :meth:`Plan.read` and :meth:`Plan.write`.
    """
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


def ensure_permissions(
    plan: Plan, vendor: VendorIdentity, setup: CustomerSetup, role_created: bool
) -> None:
    """Put the client role's permissions policy unless it is the required one (step 5).

    Raises:
        CustomerAccessError, TransientKmsError: as :meth:`Plan.read` and :meth:`Plan.write`.
    """
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
