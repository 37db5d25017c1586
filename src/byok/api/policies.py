"""The exact policy documents the API shows a tenant (from :mod:`byok.core.policy.templates`).

The service itself names one vendor role in every customer policy: ``settings.vendor_role_arn``
(its ``document-storage-role``) is the principal that calls KMS for Option A and that assumes
the client role for Option B, so both role names of :class:`VendorIdentity` are that role.
"""

from __future__ import annotations

from byok.core.policy.templates import (
    AccessLevers,
    CustomerSetup,
    VendorIdentity,
    client_trust_policy,
    customer_kit,
    render_json,
    vendor_key_statements,
)
from byok.settings import Settings
from byok.store.tenants import Tenant

__all__ = ["customer_documents", "tenant_documents", "vendor_identity"]

# Option A's key statements and Option B's trust policy never name the customer's account
# (only the vendor role, the tenant and the External ID): any valid account id builds them.
_ANY_ACCOUNT = "000000000000"


def vendor_identity(settings: Settings) -> VendorIdentity:
    """The vendor identity customers' policies name.

    Returns:
        A :class:`VendorIdentity` whose two roles are the service's vendor role.
    """
    role = settings.vendor_role_name
    return VendorIdentity(settings.vendor_account, customer_facing_role=role,
                          document_storage_role=role)  # fmt: skip


def tenant_documents(settings: Settings, tenant: Tenant) -> dict[str, dict[str, str]]:
    """What a new tenant can apply before saying which account it uses.

    Returns:
        ``{"direct": {"key-policy-statements.json": ...},
        "assume-role": {"trust-policy.json": ...}}``, exact text.
    """
    vendor = vendor_identity(settings)
    direct = CustomerSetup(tenant=tenant.id, mode="direct", customer_account=_ANY_ACCOUNT)
    chained = CustomerSetup(
        tenant=tenant.id, mode="assume-role", customer_account=_ANY_ACCOUNT,
        external_id=tenant.external_id,
    )  # fmt: skip
    statements = render_json(vendor_key_statements(vendor, direct))
    return {
        "direct": {"key-policy-statements.json": statements},
        "assume-role": {"trust-policy.json": render_json(client_trust_policy(vendor, chained))},
    }


def customer_documents(
    settings: Settings,
    tenant: Tenant,
    *,
    mode: str,
    customer_account: str,
    key_arn: str | None,
    client_role_name: str,
    hardening: bool,
    levers: AccessLevers | None = None,
) -> dict[str, str]:
    """The customer's full kit for one set-up (``byok customer policy`` prints the same),
    with the Deny statements of ``levers`` (docs/CUSTOMER.md, "Levers").

    Returns:
        File name to exact text (see :func:`byok.core.policy.templates.customer_kit`).

    Raises:
        InvalidInput: a malformed or contradictory field, named.
    """
    setup = CustomerSetup(
        tenant=tenant.id, mode=mode,  # type: ignore[arg-type]  # validated by CustomerSetup
        customer_account=customer_account, key_arn=key_arn,
        external_id=tenant.external_id if mode == "assume-role" else None,
        client_role_name=client_role_name, hardening=hardening,
        levers=levers or AccessLevers(),
    )  # fmt: skip
    return customer_kit(vendor_identity(settings), setup)
