"""The customer toolkit's documents: exact policies, CloudFormation and Terraform (pure).

What a customer's security admin needs to grant the vendor access to a tenant key, for both
options of the customer guide (docs/CUSTOMER.md follows this output):

* :func:`vendor_key_statements`: the key-policy statement(s) for an existing key;
* :func:`new_key_policy`: the full policy of a new key (root, administrators, key user);
* :func:`client_trust_policy` / :func:`client_permissions_policy`: Option B's client role;
* :func:`cloudformation_template` / :func:`terraform_config`: the whole set-up for a new key;
* :func:`handover_config`: what to hand to the vendor;
* :func:`customer_kit`: every applicable document by file name, rendered exactly.

Inputs are :class:`VendorIdentity` and :class:`CustomerSetup`, validated on construction.
Output is deterministic (same input, same bytes): keys in build order, 2-space JSON.
"""

from __future__ import annotations

from byok.core.policy.templates.cloudformation import cloudformation_template
from byok.core.policy.templates.inputs import (
    DEFAULT_REGION,
    DEFAULT_VENDOR_ROLE,
    CustomerSetup,
    VendorIdentity,
    handover_config,
    validate_admin_arn,
    validate_role_name,
)
from byok.core.policy.templates.levers import AccessLevers
from byok.core.policy.templates.policies import (
    CONTEXT_ACTIONS,
    KEY_ADMIN_ACTIONS,
    KEY_USE_ACTIONS,
    SID_ADMINS,
    SID_PERMISSIONS,
    SID_ROOT,
    SID_TRUST,
    TENANT_CONDITION_KEY,
    UNCONDITIONED_WARNING,
    client_permissions_policy,
    client_trust_policy,
    merge_key_policy,
    new_key_policy,
    render_json,
    vendor_key_statements,
    vendor_sids,
)
from byok.core.policy.templates.terraform import terraform_config

__all__ = [
    "CONTEXT_ACTIONS",
    "DEFAULT_REGION",
    "DEFAULT_VENDOR_ROLE",
    "KEY_ADMIN_ACTIONS",
    "KEY_USE_ACTIONS",
    "SID_ADMINS",
    "SID_PERMISSIONS",
    "SID_ROOT",
    "SID_TRUST",
    "TENANT_CONDITION_KEY",
    "UNCONDITIONED_WARNING",
    "AccessLevers",
    "CustomerSetup",
    "VendorIdentity",
    "client_permissions_policy",
    "client_trust_policy",
    "cloudformation_template",
    "customer_kit",
    "handover_config",
    "merge_key_policy",
    "new_key_policy",
    "render_json",
    "terraform_config",
    "validate_admin_arn",
    "validate_role_name",
    "vendor_key_statements",
    "vendor_sids",
]


def customer_kit(vendor: VendorIdentity, setup: CustomerSetup) -> dict[str, str]:
    """Every document that applies to ``setup``, by file name, rendered exactly.

    A new key (``setup.key_arn`` is None): ``key-policy-statements.json``, ``key-policy.json``,
    ``cloudformation.json``, ``main.tf`` and for Option B ``trust-policy.json``. An existing
    key: ``key-policy-statements.json``, ``handover.json`` and for Option B
    ``trust-policy.json`` and ``permissions-policy.json``.

    Returns:
        File name to text (JSON ends with a newline; ``main.tf`` is ``terraform fmt`` clean).
    """
    kit = {"key-policy-statements.json": render_json(vendor_key_statements(vendor, setup))}
    if setup.mode == "assume-role":
        kit["trust-policy.json"] = render_json(client_trust_policy(vendor, setup))
    if setup.key_arn is None:
        kit["key-policy.json"] = render_json(new_key_policy(vendor, setup))
        kit["cloudformation.json"] = render_json(cloudformation_template(vendor, setup))
        kit["main.tf"] = terraform_config(vendor, setup)
        return kit
    if setup.mode == "assume-role":
        kit["permissions-policy.json"] = render_json(client_permissions_policy(vendor, setup))
    kit["handover.json"] = render_json(handover_config(setup))
    return kit
