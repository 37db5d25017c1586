"""The API's JSON shapes (pydantic), so the OpenAPI document states every body exactly."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from byok.service.offboarding import OffboardReport
from byok.service.verification import VerificationReport
from byok.store.documents import DocumentHead
from byok.store.tenants import StoredKeyConfig, Tenant
from byok.store.tokens import TokenGrant

__all__ = [
    "ActivateRequest",
    "CheckOut",
    "DocumentOut",
    "DocumentPageOut",
    "KeyConfigIn",
    "KeyConfigOut",
    "MonitorOut",
    "OffboardOut",
    "ProbeOut",
    "Problem",
    "TenantCreateIn",
    "TenantCreatedOut",
    "TenantOut",
    "TokenCreateIn",
    "TokenCreatedOut",
    "TokenOut",
    "VerificationOut",
    "VerifyRequest",
]

TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
Mode = Literal["direct", "assume-role"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error (RFC 9457 problem details) with byok's fields: who must act and how."""

    type: str = Field(description="URI naming the error class, e.g. urn:byok:error:KeyDisabled")
    title: str = Field(description="Short summary of the error class (the error table's title)")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, in one sentence")
    error: str = Field(description="The byok error class name")
    code: str | None = Field(
        default=None,
        description="Stable machine-readable code (denied, disabled, pending-deletion, "
        "not-found, throttled, unavailable, ...; docs/OPERATIONS.md#error-codes)",
    )
    tenant: str | None = Field(default=None, description="The tenant concerned, if any")
    operation: str | None = Field(default=None, description="What byok was doing")
    fix: str | None = Field(default=None, description="What the person who must act should do")
    field: str | None = Field(default=None, description="The malformed input field (422)")


class TenantCreateIn(_Strict):
    """A tenant to create."""

    tenant: str = Field(pattern=TENANT_PATTERN, description="Tenant id (encryption context)")
    name: str | None = Field(default=None, max_length=256, description="Display name")


class TenantOut(BaseModel):
    """A tenant's lifecycle state."""

    tenant: str
    name: str
    state: Literal["PENDING", "VERIFIED", "ACTIVE", "KEY_UNAVAILABLE", "OFFBOARDED"]
    state_detail: str | None = Field(description="Why the state changed (e.g. the key error)")
    external_id: str = Field(description="Option B: the External ID the trust policy requires")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        """Build from a stored :class:`Tenant`."""
        return cls(
            tenant=tenant.id, name=tenant.name, state=tenant.state.value,
            state_detail=tenant.state_detail, external_id=tenant.external_id,
            created_at=tenant.created_at, updated_at=tenant.updated_at,
        )  # fmt: skip


class TenantCreatedOut(TenantOut):
    """A new tenant, with what its customer needs to grant access."""

    vendor_role_arn: str = Field(description="The vendor role the customer's policies name")
    vendor_kms_actions: list[str] = Field(description="The five KMS actions the vendor needs")
    policies: dict[str, dict[str, str]] = Field(
        description="Per mode, file name to exact text of the documents that depend only on "
        "the vendor and the tenant: "
        "Option A's key-policy statements, Option B's client-role trust policy. The full kit "
        "for a customer account: GET /v1/tenants/{tenant}/policies."
    )


class OffboardOut(BaseModel):
    """What offboarding destroyed (crypto-shredded keys, deleted rows and blobs)."""

    tenant: str = Field(description="The tenant, now OFFBOARDED")
    previous_state: Literal["PENDING", "VERIFIED", "ACTIVE", "KEY_UNAVAILABLE", "OFFBOARDED"] = (
        Field(description="Its state before (OFFBOARDED: this call finished an earlier one)")
    )
    tk_ids: list[str] = Field(description="Tenant keys crypto-shredded (wrapped copies deleted)")
    key_arns: list[str] = Field(description="Customer CMKs that had wrapped them")
    document_rows: int = Field(description="Document rows deleted (every version)")
    blobs: int = Field(description="Blobs deleted (document blobs and orphans)")
    configs_retired: list[int] = Field(description="Key configuration versions retired")
    audit_seq: int = Field(description="Sequence number of the tenant:offboard audit event")
    vendor_key_destroyed: bool = Field(
        description="The tenant's vendor key (composite wrap) was destroyed by this call"
    )
    still_decryptable: str = Field(description="Exactly what remains decryptable, and by whom")
    customer_action: str = Field(
        description="What to ask the customer: disable or schedule deletion of its key"
    )

    @classmethod
    def of(cls, report: OffboardReport) -> OffboardOut:
        """Build from an :class:`OffboardReport`."""
        return cls.model_validate(report.to_dict())


class KeyConfigIn(_Strict):
    """The key configuration the customer hands over (customer guide, section 3)."""

    mode: Mode = Field(description="direct (Option A) or assume-role (Option B)")
    key_arn: str = Field(max_length=2048, description="The CMK's full key ARN (not an alias)")
    client_role_arn: str | None = Field(default=None, max_length=2048)
    external_id: str | None = Field(default=None, max_length=1224)


class KeyConfigOut(BaseModel):
    """One stored key-configuration version."""

    tenant: str
    version: int
    state: Literal["PENDING", "VERIFIED", "FAILED", "ACTIVE", "RETIRED"]
    mode: Mode
    key_arn: str
    client_role_arn: str | None
    verification: dict[str, Any] | None = Field(description="The last verification report")
    submitted_by: str | None = Field(default=None, description="Who submitted it (token:<id>)")
    approved_by: str | None = Field(
        default=None, description="The second principal who approved it (re-rooting), if any"
    )

    @classmethod
    def of(cls, tenant: str, stored: StoredKeyConfig) -> KeyConfigOut:
        """Build from a :class:`StoredKeyConfig`."""
        config = stored.config
        return cls(
            tenant=tenant, version=stored.version, state=stored.state.value,
            mode=config.mode, key_arn=config.key_arn, client_role_arn=config.client_role_arn,
            verification=None if stored.verification is None else dict(stored.verification),
            submitted_by=stored.submitted_by, approved_by=stored.approved_by,
        )  # fmt: skip


class VerifyRequest(_Strict):
    """Which configuration version to verify (default: the newest)."""

    version: int | None = Field(default=None, ge=1)


class ActivateRequest(VerifyRequest):
    """Which verified configuration version to activate (default: the newest)."""


class CheckOut(BaseModel):
    """One named verification check."""

    name: str
    status: Literal["passed", "failed", "skipped"]
    evidence: str
    fix: str | None


class VerificationOut(BaseModel):
    """The verification report: every check with its evidence and fix."""

    tenant: str
    version: int
    mode: Mode
    key_arn: str
    passed: bool
    checks: list[CheckOut]

    @classmethod
    def of(cls, report: VerificationReport) -> VerificationOut:
        """Build from a :class:`VerificationReport`."""
        return cls.model_validate(report.to_dict())


class DocumentOut(BaseModel):
    """A stored document version (sizes and hashes are of the stored ciphertext)."""

    tenant: str
    name: str
    generation: int = Field(
        description="Version number from the tenant's own counter: unique within the tenant, higher"
        " is newer; it counts only this tenant's writes"
    )
    stored_size: int = Field(description="Stored (encrypted) size in bytes")
    stored_sha256: str = Field(description="SHA-256 (hex) of the stored bytes")
    tk_id: str | None = Field(description="The tenant key that encrypted it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, head: DocumentHead) -> DocumentOut:
        """Build from a :class:`DocumentHead`."""
        return cls(
            tenant=head.tenant, name=head.name, generation=head.generation,
            stored_size=head.size, stored_sha256=head.sha256, tk_id=head.tk_id,
            created_at=head.created_at, updated_at=head.updated_at,
        )  # fmt: skip


class DocumentPageOut(BaseModel):
    """One page of a listing; pass ``next_cursor`` as ``cursor`` for the next page."""

    items: list[DocumentOut]
    next_cursor: str | None


class ProbeOut(BaseModel):
    """A health or readiness probe."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class MonitorOut(BaseModel):
    """The key monitor's last sweep and the tenants by state."""

    enabled: bool = Field(description="Whether this server runs a key monitor")
    interval_s: float | None
    last_sweep_ran: bool | None = Field(
        description="None: no sweep yet; False: another process held the lease"
    )
    states: dict[str, str] = Field(description="Each probed tenant's state after the sweep")
    changed: dict[str, list[str]] = Field(description="Tenants whose state changed: [from, to]")
    tenants_by_state: dict[str, int]


class TokenCreateIn(_Strict):
    """A token to mint for a tenant."""

    role: Literal["tenant-admin", "writer", "reader"]
    label: str = Field(default="", max_length=256)


class TokenOut(BaseModel):
    """A token's public description (never the secret)."""

    token_id: str
    role: Literal["operator", "tenant-admin", "writer", "reader"]
    tenant: str | None
    label: str
    created_at: datetime | None
    revoked: bool

    @classmethod
    def of(cls, grant: TokenGrant) -> TokenOut:
        """Build from a :class:`TokenGrant`."""
        return cls(
            token_id=grant.token_id, role=grant.role.value, tenant=grant.tenant,
            label=grant.label, created_at=grant.created_at, revoked=grant.revoked,
        )  # fmt: skip


class TokenCreatedOut(TokenOut):
    """A new token; ``token`` is shown only this once."""

    token: str = Field(description="The bearer token. Store it now: byok keeps only a hash")


class KeyEventSecretOut(BaseModel):
    """A new key-event secret (shown once) and where the customer's events go."""

    tenant: str
    secret: str = Field(description="Put into the EventBridge connection's API key value")
    header: str = Field(description="The API key header name")
    path: str = Field(description="The receiver's path on the vendor's API")
    url: str = Field(
        description="The key-event URL the rules target: the vendor's BYOK_PUBLIC_URL + path "
        "(unset: this request's origin + path, and url_note says so)"
    )
    url_note: str | None = Field(
        default=None, description="Why url may not be the public address (None: it is)"
    )


class KeyPolicyIn(_Strict):
    """A tenant's outage grace and key-loss policy (fields left out are unchanged)."""

    outage_grace_s: float | None = Field(
        default=None, ge=0, le=3600, description="Serve cached keys this long in a KMS outage"
    )
    webhook_url: str | None = Field(default=None, max_length=2048)
    notify_every_s: float | None = Field(default=None, ge=60)
    on_key_loss: Literal["keep", "shred"] | None = None
    shred_after_s: float | None = Field(default=None, ge=3600)


class ScopeRuleIn(_Strict):
    """Documents whose name starts with ``prefix`` are in ``scope``."""

    prefix: str = Field(min_length=1, max_length=1024)
    scope: str = Field(min_length=1, max_length=64, description="1-64 of A-Z a-z 0-9 . _ -")


class ScopesIn(_Strict):
    """A tenant's scope rules and period unit (fields left out are unchanged)."""

    rules: list[ScopeRuleIn] | None = Field(
        default=None, max_length=64, description="Replaces every rule; [] puts all in default"
    )
    period_unit: Literal["month", "day", "hour"] | None = None
