"""Key configurations: submit, verify, approve, activate (the :class:`Vendor` methods' bodies).

Who acts is a :class:`Principal` (an API token, or the operator at the command line). Every
step is an audit event naming the principal and is sent to the tenant's notification webhook
(:mod:`byok.service.notify`), so the customer hears of a new key the moment it is submitted.

**Re-rooting needs two principals.** A tenant in service whose next configuration puts the
key (or client role) in an AWS account its active configuration does not use is being moved to
a key someone else may control. Whoever holds one tenant-admin token could otherwise do that
alone, and from then on the real customer's revocation would stop nothing. So such a version
is activated only with the approval of a principal other than its submitter: an operator, or
(when the vendor sets ``BYOK_TENANT_ADMIN_APPROVALS=1``) a second tenant-admin. The first
token gets :class:`~byok.errors.ApprovalRequired` (HTTP 403) with the fix. An operator who
activates a version someone else submitted approves it by doing so (recorded as such).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from byok.core.tenant_config import TenantKeyConfig
from byok.errors import ApprovalRequired, Conflict, StateError
from byok.service.verification import FAIL, Check, VerificationReport, verify_configuration
from byok.store.bindings import held_elsewhere
from byok.store.schema import KeyConfigState, TenantState
from byok.store.tenants import StoredKeyConfig, Tenant, check_config_transition

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = [
    "OPERATOR",
    "TENANT_ADMIN",
    "Principal",
    "activate_config",
    "approve_config",
    "config_version",
    "needs_approval",
    "submit_config",
    "verify_config",
]

OPERATOR, TENANT_ADMIN = "operator", "tenant-admin"


@dataclass(frozen=True)
class Principal:
    """Who acts: ``id`` (``token:<id>``, ``cli``, ``operator:<name>``) and its role."""

    id: str
    role: str

    @classmethod
    def of_token(cls, token_id: str, role: str) -> Principal:
        """The principal of an API (or console) token: ``token:<id>`` with its role."""
        return cls(f"token:{token_id}", role)

    def may_approve(self, tenant_admins_may: bool) -> bool:
        """True for operators, and for tenant-admins when the vendor enabled that."""
        return self.role == OPERATOR or (tenant_admins_may and self.role == TENANT_ADMIN)


def submit_config(
    vendor: Vendor, tenant: str, config: TenantKeyConfig, principal: Principal
) -> StoredKeyConfig:
    """Store ``config`` as the tenant's next PENDING version, audited and announced.

    Returns:
        The stored version.
    """
    stored = vendor.tenants.submit_config(config, submitted_by=principal.id)
    detail = _detail(stored, principal)
    vendor.audit.record("tenant:submit-config", tenant=tenant, detail=detail)
    vendor.notifier.notify(tenant, "key-config:submitted", detail)
    return stored


def verify_config(vendor: Vendor, tenant: str, version: int | None) -> VerificationReport:
    """Run every check; store the report (a passed version claims its key and role).

    Returns:
        The report; a binding lost to a concurrent claim shows as ``not_bound_elsewhere``.
    """
    stored = config_version(vendor, tenant, version)
    issued = vendor.tenants.get(tenant).external_id
    report = verify_configuration(
        stored.config, version=stored.version, access=vendor.access, factory=vendor.factory,
        allowed_regions=vendor.settings.allowed_regions, issued_external_id=issued,
        vendor_account=vendor.settings.vendor_account,
        held_elsewhere=lambda config: held_elsewhere(vendor.store, config),
        on_kms_call=lambda operation, rid: vendor.audit_kms(tenant, operation, rid),
        on_probe_refused=lambda rid, context: vendor.audit.record(
            "kms:GenerateDataKey", tenant=tenant, kms_request_id=rid, outcome="KeyAccessDenied",
            detail={"purpose": "verification: other-tenant probe, refused as required",
                    "encryption_context": dict(context)},
        ),
    )  # fmt: skip
    try:
        vendor.tenants.record_verification(
            tenant, stored.version, report.to_dict(), passed=report.passed
        )
    except Conflict as lost:  # another tenant claimed the key or role in the meantime
        report = _with_failure(report, Check("not_bound_elsewhere", FAIL, lost.message, lost.fix))
        vendor.tenants.record_verification(tenant, stored.version, report.to_dict(), passed=False)
    if report.passed and vendor.tenants.get(tenant).state == TenantState.PENDING:
        vendor.tenants.transition(tenant, TenantState.VERIFIED)
    failed = ",".join(c.name for c in report.failures)
    outcome = "ok" if report.passed else "failed"
    vendor.audit.record("tenant:verify", tenant=tenant, outcome=outcome,
                        detail={"version": stored.version, "failed": failed})  # fmt: skip
    vendor.notifier.notify(tenant, "key-config:verified", {
        "version": stored.version, "passed": report.passed, "failed": failed,
        "key_arn": stored.config.key_arn,
    })  # fmt: skip
    return report


def approve_config(
    vendor: Vendor, tenant: str, version: int, principal: Principal
) -> StoredKeyConfig:
    """Record ``principal``'s approval of a version (the second principal of re-rooting).

    Returns:
        The approved version.

    Raises:
        ApprovalRequired: ``principal`` may not approve, or submitted the version itself.
        StateError, NotFound: from the store.
    """
    stored = vendor.tenants.config(tenant, version)
    if not principal.may_approve(vendor.settings.tenant_admin_approvals):
        raise ApprovalRequired(
            f"a {principal.role} may not approve key configurations", tenant=tenant,
            operation="key_config:approve", fix=_approval_fix(tenant, version),
        )  # fmt: skip
    if principal.id == stored.submitted_by:
        raise ApprovalRequired(
            "the principal that submitted a configuration cannot also approve it",
            tenant=tenant, operation="key_config:approve", fix=_approval_fix(tenant, version),
        )  # fmt: skip
    approved = vendor.tenants.approve_config(tenant, version, approved_by=principal.id)
    detail = _detail(approved, principal)
    vendor.audit.record("tenant:approve-config", tenant=tenant, detail=detail)
    vendor.notifier.notify(tenant, "key-config:approved", detail)
    return approved


def activate_config(
    vendor: Vendor, tenant: str, version: int | None, principal: Principal
) -> Tenant:
    """Make a VERIFIED version the one in use (approval first when it re-roots the tenant).

    Returns:
        The tenant (ACTIVE).

    Raises:
        ApprovalRequired: the version re-roots the tenant and no second principal approved.
        StateError: the version is not verified.
        NotFound: no such tenant or version.
    """
    stored = config_version(vendor, tenant, version)
    # Unverified first: approving a configuration that failed its checks changes nothing.
    check_config_transition(stored.state, KeyConfigState.ACTIVE, tenant)
    if needs_approval(vendor.tenants.active_config(tenant), stored):
        stored = _approved(vendor, tenant, stored, principal)
    vendor.tenants.activate_config(tenant, stored.version)
    current = vendor.tenants.get(tenant)
    if current.state == TenantState.VERIFIED:
        current = vendor.tenants.transition(tenant, TenantState.ACTIVE)
    vendor.forget_tenant(tenant)
    detail = _detail(stored, principal)
    vendor.audit.record("tenant:activate", tenant=tenant, detail=detail)
    vendor.notifier.notify(tenant, "key-config:activated", detail)
    return current


def needs_approval(active: StoredKeyConfig | None, target: StoredKeyConfig) -> bool:
    """True when ``target`` moves a tenant in service to an AWS account its active
    configuration does not use (key or client role): re-rooting."""
    if active is None or active.version == target.version:
        return False
    return not _accounts(target.config) <= _accounts(active.config)


def config_version(vendor: Vendor, tenant: str, version: int | None) -> StoredKeyConfig:
    """The given version, or the newest.

    Raises:
        StateError: the tenant has no configuration. NotFound: no such version.
    """
    if version is not None:
        return vendor.tenants.config(tenant, version)
    configs = vendor.tenants.configs(tenant)
    if not configs:
        raise StateError(
            "the tenant has no key configuration", tenant=tenant,
            fix="Submit one with `byok tenant configure`.",
        )  # fmt: skip
    return configs[-1]


def _approved(
    vendor: Vendor, tenant: str, stored: StoredKeyConfig, principal: Principal
) -> StoredKeyConfig:
    if stored.approved_by is not None and stored.approved_by != stored.submitted_by:
        return stored
    allowed = principal.may_approve(vendor.settings.tenant_admin_approvals)
    if allowed and principal.id != stored.submitted_by:
        return approve_config(vendor, tenant, stored.version, principal)
    accounts = ", ".join(sorted(_accounts(stored.config)))
    vendor.audit.record(
        "tenant:activate", tenant=tenant, outcome="ApprovalRequired",
        detail=_detail(stored, principal),
    )  # fmt: skip
    vendor.notifier.notify(tenant, "key-config:approval-required", _detail(stored, principal))
    raise ApprovalRequired(
        f"key configuration version {stored.version} moves the tenant to AWS account(s) "
        f"{accounts}, which its active configuration does not use: a second principal must "
        "approve it", tenant=tenant, operation="tenant:activate",
        fix=_approval_fix(tenant, stored.version),
    )  # fmt: skip


def _approval_fix(tenant: str, version: int) -> str:
    return (
        f"Ask the vendor's operator to approve it (Approve under 'Approvals waiting' on the "
        f"console's operator page, POST /v1/tenants/{tenant}/key-configs/{version}/approve "
        f"with an operator token, or `byok tenant approve {tenant} --version {version} "
        "--approver <name>`), then activate again. A key in another AWS account takes the "
        "tenant out of its current customer's control, so one token is not enough."
    )


def _accounts(config: TenantKeyConfig) -> set[str]:
    found = {config.key.account}
    if config.client_role is not None:
        found.add(config.client_role.account)
    return found


def _with_failure(report: VerificationReport, failed: Check) -> VerificationReport:
    checks = [c for c in report.checks if c.name != failed.name]
    return dataclasses.replace(report, checks=(*checks, failed))


def _detail(stored: StoredKeyConfig, principal: Principal) -> dict[str, Any]:
    return {
        "version": stored.version, "mode": stored.config.mode, "key_arn": stored.config.key_arn,
        "client_role_arn": stored.config.client_role_arn, "principal": principal.id,
        "principal_role": principal.role,
    }  # fmt: skip
