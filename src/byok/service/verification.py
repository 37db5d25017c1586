"""Verify a tenant's key configuration before it is used: named checks, evidence, fixes.

The checks (DESIGN.md "Tenant lifecycle"), in order; a failed check stops the ones that
depend on it (they are reported as skipped, with the reason):

=========================  =====================================================================
check                      passes when
=========================  =====================================================================
region_allowed             the key's region is one the vendor serves
not_vendor_account         key and client role are not in the vendor's own account
not_bound_elsewhere        no other tenant holds the key or client role (``byok.store.bindings``)
external_id_issued         (B) the External ID is the one byok issued to this tenant
role_assumable             (B) the client role can be assumed with the External ID
external_id_required       (B) the client role can NOT be assumed without it (confused deputy)
external_id_exact          (B) nor with a wrong External ID in byok's own format
key_reachable              kms:DescribeKey on the key ARN succeeds
key_owner                  the key belongs to the account in its ARN (the customer's claim)
key_enabled                the key state is Enabled
key_symmetric              key spec SYMMETRIC_DEFAULT
key_usage                  key usage ENCRYPT_DECRYPT
round_trip                 GenerateDataKey, Decrypt and ReEncrypt with the tenant's context
key_refuses_other_tenants  the key refuses the vendor under a random other tenant's context
=========================  =====================================================================

The binding checks are in :mod:`byok.service.binding_checks`. Only a configuration whose
every check passed may become active.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from byok.aws.access import KeyAccessProvider
from byok.aws.clients import ClientFactory
from byok.aws.credentials import role_session_name
from byok.aws.errors import error_code
from byok.aws.kms import KeyDescription, KmsKeyWrapper
from byok.core.context import VERIFICATION_USE, tenant_key_context
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import ByokError
from byok.service import binding_checks

__all__ = ["Check", "KmsCallHook", "VerificationReport", "verify_configuration"]

#: Called with ``(operation, request_id)`` after each successful KMS call.
KmsCallHook = Callable[[str, str | None], None]

PASS, FAIL, SKIP = "passed", "failed", "skipped"


@dataclass(frozen=True)
class Check:
    """One named verification check.

    Attributes:
        name: stable identifier (``key_enabled``).
        status: ``passed``, ``failed`` or ``skipped``.
        evidence: what byok observed.
        fix: what to do when it failed (None when it passed).
    """

    name: str
    status: str
    evidence: str
    fix: str | None = None

    @property
    def passed(self) -> bool:
        """True when the check passed."""
        return self.status == PASS


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of :func:`verify_configuration`."""

    tenant: str
    version: int
    mode: str
    key_arn: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        """True only when every check passed (a skipped check is not a pass)."""
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [check for check in self.checks if check.status == FAIL]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, stored with the configuration and shown to the customer."""
        return {
            "tenant": self.tenant,
            "version": self.version,
            "mode": self.mode,
            "key_arn": self.key_arn,
            "passed": self.passed,
            "checks": [
                {"name": c.name, "status": c.status, "evidence": c.evidence, "fix": c.fix}
                for c in self.checks
            ],
        }


class _Checks:
    """Accumulates checks; once one fails, dependent checks are skipped with the reason."""

    def __init__(self) -> None:
        self.items: list[Check] = []
        self.blocked_by: str | None = None

    def run(self, name: str, probe: Callable[[], tuple[bool, str, str | None]]) -> bool:
        if self.blocked_by is not None:
            self.items.append(Check(name, SKIP, f"not run: {self.blocked_by} failed"))
            return False
        try:
            ok, evidence, fix = probe()
        except ByokError as exc:
            ok, evidence, fix = False, f"{type(exc).__name__}: {exc.message}", exc.fix
        self.items.append(Check(name, PASS if ok else FAIL, evidence, None if ok else fix))
        if not ok:
            self.blocked_by = name
        return ok


def verify_configuration(
    config: TenantKeyConfig,
    *,
    version: int,
    access: KeyAccessProvider,
    factory: ClientFactory,
    allowed_regions: tuple[str, ...],
    issued_external_id: str,
    vendor_account: str,
    held_elsewhere: Callable[[TenantKeyConfig], list[str]],
    on_kms_call: KmsCallHook | None = None,
    on_probe_refused: binding_checks.RefusalHook | None = None,
) -> VerificationReport:
    """Run every check against AWS and return the report (never raises for a failed check).

    ``held_elsewhere(config)`` names the kinds of resource another tenant holds
    (:func:`byok.store.bindings.held_elsewhere`). ``on_kms_call(operation, request_id)`` is
    called for every successful KMS call, so the caller can audit them (each lines up with
    an event in the customer's CloudTrail); ``on_probe_refused(request_id, context)`` for
    the other-tenant probe's expected refusal (a refusal in the customer's CloudTrail).

    Returns:
        A :class:`VerificationReport`; ``passed`` only when every check passed.
    """
    checks = _Checks()
    checks.run("region_allowed", lambda: _region_allowed(config, allowed_regions))
    checks.run(
        "not_vendor_account", lambda: binding_checks.not_vendor_account(config, vendor_account)
    )
    checks.run(
        "not_bound_elsewhere", lambda: binding_checks.not_bound_elsewhere(held_elsewhere(config))
    )
    if config.mode == "assume-role":
        checks.run("external_id_issued", lambda: _external_id_issued(config, issued_external_id))
        checks.run("role_assumable", lambda: _role_assumable(config, access))
        checks.run("external_id_required", lambda: _external_id_required(config, access, factory))
        checks.run(
            "external_id_exact", lambda: binding_checks.external_id_exact(config, access, factory)
        )
    wrapper = access.wrapper_for(config)
    described: list[KeyDescription] = []
    note = on_kms_call or (lambda _operation, _request_id: None)
    checks.run("key_reachable", lambda: _key_reachable(wrapper, described, note))
    checks.run("key_owner", lambda: _key_owner(config, described[0]))
    checks.run("key_enabled", lambda: _key_enabled(described[0]))
    checks.run("key_symmetric", lambda: _key_spec(described[0]))
    checks.run("key_usage", lambda: _key_usage(described[0]))
    checks.run("round_trip", lambda: _round_trip(config, wrapper, note))
    checks.run(
        "key_refuses_other_tenants",
        lambda: binding_checks.key_refuses_other_tenants(config, wrapper, on_probe_refused),
    )
    return VerificationReport(
        config.tenant, version, config.mode, config.key_arn, tuple(checks.items)
    )


def _region_allowed(config: TenantKeyConfig, allowed: tuple[str, ...]) -> tuple[bool, str, str]:
    ok = config.region in allowed
    evidence = f"key region {config.region}; vendor serves {', '.join(allowed)}"
    fix = f"Create the key in one of: {', '.join(allowed)} (or a replica there)."
    return ok, evidence, fix


def _external_id_issued(config: TenantKeyConfig, issued: str) -> tuple[bool, str, str]:
    given = config.external_id or ""
    ok = hmac.compare_digest(given.encode(), issued.encode())
    evidence = "matches the External ID issued to this tenant" if ok else "differs from it"
    return ok, evidence, "Use the External ID shown by `byok tenant show` in the trust policy."


def _role_assumable(config: TenantKeyConfig, access: KeyAccessProvider) -> tuple[bool, str, str]:
    credentials = access.credentials_for(config)
    assert credentials is not None  # assume-role mode always has client-role credentials
    credentials.get_frozen_credentials()  # raises RoleAssumptionDenied with the fix
    evidence = f"assumed {config.client_role_arn} with the External ID"
    return True, evidence, ""


def _external_id_required(
    config: TenantKeyConfig, access: KeyAccessProvider, factory: ClientFactory
) -> tuple[bool, str, str]:
    """The confused-deputy check: assuming the role WITHOUT the External ID must fail."""
    sts = factory.client("sts", factory.settings.sts_region, access.vendor_credentials)
    fix = (
        'Add a Condition {"StringEquals": {"sts:ExternalId": "<External ID>"}} to the '
        "trust policy statement that allows the vendor; without it any other customer of "
        "the vendor could make it use this role (confused deputy)."
    )
    try:
        sts.assume_role(
            RoleArn=str(config.client_role_arn),
            RoleSessionName=role_session_name(config.tenant, "-check"),
            DurationSeconds=900,
        )
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc)
        if code == "AccessDenied":
            return True, "assuming the role without the External ID is denied", fix
        return False, f"could not run the check ({code or type(exc).__name__})", fix
    return False, "the role can be assumed WITHOUT the External ID: refused", fix


def _key_reachable(
    wrapper: KmsKeyWrapper, out: list[KeyDescription], note: KmsCallHook
) -> tuple[bool, str, str]:
    description = wrapper.describe_key()
    note("kms:DescribeKey", description.request_id)
    out.append(description)
    return True, f"DescribeKey ok (request {description.request_id})", ""


def _key_owner(config: TenantKeyConfig, description: KeyDescription) -> tuple[bool, str, str]:
    claimed = config.key.account
    ok = description.account == claimed
    evidence = f"key owned by account {description.account}; ARN names {claimed}"
    return ok, evidence, "Give the ARN of a key in the customer's own account."


def _key_enabled(description: KeyDescription) -> tuple[bool, str, str]:
    ok = description.key_state == "Enabled"
    fix = "Enable the key (or cancel its scheduled deletion and enable it)."
    return ok, f"key state {description.key_state}", fix


def _key_spec(description: KeyDescription) -> tuple[bool, str, str]:
    ok = description.key_spec == "SYMMETRIC_DEFAULT"
    fix = "Create a symmetric key (key spec SYMMETRIC_DEFAULT)."
    return ok, f"key spec {description.key_spec}", fix


def _key_usage(description: KeyDescription) -> tuple[bool, str, str]:
    ok = description.key_usage == "ENCRYPT_DECRYPT"
    fix = 'Create the key with key usage ENCRYPT_DECRYPT ("Encrypt and decrypt").'
    return ok, f"key usage {description.key_usage}", fix


def _round_trip(
    config: TenantKeyConfig, wrapper: KmsKeyWrapper, note: KmsCallHook
) -> tuple[bool, str, str]:
    # A scope, period and reason no customer denies: a strict key policy (--require-context)
    # and the customer's levers let the round trip through (docs/SECURITY.md#customer-levers).
    context = tenant_key_context(config.tenant, "tk_verification", **VERIFICATION_USE)
    made = wrapper.generate_data_key(context)
    note("kms:GenerateDataKey", made.request_id)
    back = wrapper.unwrap(made.wrapped, context)
    note("kms:Decrypt", back.request_id)
    same = hmac.compare_digest(made.plaintext, back.plaintext)
    moved = wrapper.rewrap(made.wrapped, context, wrapper)
    note("kms:ReEncrypt", moved.request_id)
    ids = ", ".join(str(r) for r in (made.request_id, back.request_id, moved.request_id))
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(context.items()))
    evidence = f"GenerateDataKey, Decrypt, ReEncrypt with context {pairs} (requests {ids})"
    # Name the principal that actually called: a key policy naming another vendor role (the
    # guide's customer-facing-role placeholder) is the usual cause of a refusal here.
    who = wrapper.principal or "the vendor principal"
    fix = f"Allow kms:GenerateDataKey*, kms:Decrypt and kms:ReEncrypt* to {who}."
    return same, evidence, fix
