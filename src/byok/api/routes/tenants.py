"""Tenant routes: create, read, policies, key configuration, verify, activate, tenant
tokens, and offboarding."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from starlette.exceptions import HTTPException

from byok.api.auth import Action, AuthorizedRoute, requires
from byok.api.models import (
    TENANT_PATTERN,
    ActivateRequest,
    KeyConfigIn,
    KeyConfigOut,
    OffboardOut,
    TenantCreatedOut,
    TenantCreateIn,
    TenantOut,
    TokenCreatedOut,
    TokenCreateIn,
    TokenOut,
    VerificationOut,
    VerifyRequest,
)
from byok.api.policies import customer_documents, tenant_documents
from byok.api.problems import responses_for
from byok.core.policy.templates import UNCONDITIONED_WARNING, AccessLevers
from byok.service.bootstrap import VENDOR_KMS_ACTIONS
from byok.service.offboarding import offboard_tenant
from byok.service.onboarding import Principal
from byok.service.vendor import Vendor
from byok.store.tokens import Role, TokenGrant, TokenRepository

__all__ = ["router"]

router = APIRouter(prefix="/v1/tenants", tags=["tenants"], route_class=AuthorizedRoute)
_AUTH = (401, 403, 404)
TenantId = Annotated[str, Path(pattern=TENANT_PATTERN, description="The tenant id")]


def _vendor(request: Request) -> Vendor:
    vendor: Vendor = request.app.state.vendor
    return vendor


@router.post(
    "", status_code=201, response_model=TenantCreatedOut,
    responses=responses_for(401, 403, 409, 413, 422, 500),
    summary="Create a tenant (operator): its External ID and the policies to apply",
    dependencies=[Depends(requires(Action.TENANT_CREATE))],
)  # fmt: skip
def create_tenant(request: Request, body: TenantCreateIn) -> TenantCreatedOut:
    """Create a PENDING tenant with a fresh, unique External ID."""
    vendor = _vendor(request)
    tenant = vendor.create_tenant(body.tenant, name=body.name)
    return TenantCreatedOut(
        **TenantOut.of(tenant).model_dump(),
        vendor_role_arn=vendor.settings.vendor_role_arn,
        vendor_kms_actions=list(VENDOR_KMS_ACTIONS),
        policies=tenant_documents(vendor.settings, tenant),
    )


@router.get(
    "", response_model=list[TenantOut], responses=responses_for(401, 403, 500),
    summary="List tenants (operator)",
    dependencies=[Depends(requires(Action.TENANT_LIST))],
)  # fmt: skip
def list_tenants(request: Request) -> list[TenantOut]:
    """Every tenant with its state."""
    return [TenantOut.of(t) for t in _vendor(request).tenants.list()]


@router.get(
    "/{tenant}", response_model=TenantOut, responses=responses_for(*_AUTH, 500),
    summary="Read a tenant's state (operator, tenant-admin)",
    dependencies=[Depends(requires(Action.TENANT_READ))],
)  # fmt: skip
def get_tenant(request: Request, tenant: TenantId) -> TenantOut:
    """The tenant's lifecycle state and why it last changed."""
    return TenantOut.of(_vendor(request).tenants.get(tenant))


@router.delete(
    "/{tenant}", response_model=OffboardOut, responses=responses_for(*_AUTH, 422, 500),
    summary="Offboard a tenant (operator): crypto-shred its keys, delete its documents",
    dependencies=[Depends(requires(Action.TENANT_OFFBOARD))],
)  # fmt: skip
def offboard(
    request: Request,
    tenant: TenantId,
    confirm: Annotated[str, Query(max_length=128, description="Must repeat the tenant id")],
) -> OffboardOut:
    """Irreversible: the tenant becomes OFFBOARDED and every tenant key is destroyed (no
    copy of its documents, backups included, can be decrypted again), then its documents'
    rows and blobs are deleted. A wrong ``confirm`` is 422 and changes nothing. Calling it
    again on an OFFBOARDED tenant finishes an interrupted run (a 500 after the shred)."""
    return OffboardOut.of(offboard_tenant(_vendor(request), tenant, confirm=confirm))


@router.get(
    "/{tenant}/policies", response_model=dict[str, str],
    responses=responses_for(*_AUTH, 422, 500),
    summary="The exact policies and templates to apply for a customer account",
    dependencies=[Depends(requires(Action.TENANT_READ))],
)  # fmt: skip
def get_policies(
    request: Request,
    tenant: TenantId,
    mode: Annotated[Literal["direct", "assume-role"], Query()],
    customer_account: Annotated[str, Query(pattern=r"^[0-9]{12}$")],
    key_arn: Annotated[str | None, Query(max_length=2048)] = None,
    client_role_name: Annotated[str, Query(max_length=64)] = "byok-client-role",
    unconditioned: Annotated[bool, Query(description=UNCONDITIONED_WARNING)] = False,
    deny_scope: Annotated[list[str] | None, Query(max_length=16)] = None,
    deny_period: Annotated[list[str] | None, Query(max_length=16)] = None,
    deny_reason: Annotated[list[str] | None, Query(max_length=3)] = None,
    require_context: bool = False,
) -> dict[str, str]:
    """File name to exact text: key-policy statements, trust and permissions policies,
    CloudFormation and Terraform (for a new key: omit ``key_arn``). Every document limits
    the key to this tenant's encryption context; ``unconditioned=true`` (weaker) does not.
    ``deny_scope``, ``deny_period``, ``deny_reason`` (repeatable) and ``require_context`` add
    the customer's levers as Deny statements (docs/CUSTOMER.md, "Levers")."""
    vendor = _vendor(request)
    levers = AccessLevers(
        deny_scopes=tuple(deny_scope or ()), deny_periods=tuple(deny_period or ()),
        deny_reasons=tuple(deny_reason or ()), require_context=require_context,
    )  # fmt: skip
    return customer_documents(
        vendor.settings, vendor.tenants.get(tenant), mode=mode,
        customer_account=customer_account, key_arn=key_arn,
        client_role_name=client_role_name, hardening=not unconditioned, levers=levers,
    )  # fmt: skip


@router.post(
    "/{tenant}/key-configs", status_code=201, response_model=KeyConfigOut,
    responses=responses_for(*_AUTH, 409, 413, 422, 500),
    summary="Submit the customer's key configuration (tenant-admin)",
)  # fmt: skip
def submit_config(
    request: Request,
    tenant: TenantId,
    body: KeyConfigIn,
    grant: Annotated[TokenGrant, Depends(requires(Action.CONFIG_WRITE))],
) -> KeyConfigOut:
    """Store a new PENDING configuration version (checked by the verification); the tenant's
    webhook (its key policy's ``webhook_url``) hears of it."""
    stored = _vendor(request).submit_config(
        tenant, mode=body.mode, key_arn=body.key_arn,
        client_role_arn=body.client_role_arn, external_id=body.external_id,
        principal=_principal(grant),
    )  # fmt: skip
    return KeyConfigOut.of(tenant, stored)


@router.get(
    "/{tenant}/key-configs", response_model=list[KeyConfigOut],
    responses=responses_for(*_AUTH, 500),
    summary="Every key-configuration version with its state and last report",
    dependencies=[Depends(requires(Action.CONFIG_READ))],
)  # fmt: skip
def list_configs(request: Request, tenant: TenantId) -> list[KeyConfigOut]:
    """Configuration versions, oldest first."""
    return [KeyConfigOut.of(tenant, c) for c in _vendor(request).tenants.configs(tenant)]


@router.post(
    "/{tenant}/verify", response_model=VerificationOut,
    responses=responses_for(*_AUTH, 409, 413, 422, 500),
    summary="Run the verification checks (tenant-admin)",
    dependencies=[Depends(requires(Action.CONFIG_WRITE))],
)  # fmt: skip
def verify(
    request: Request, tenant: TenantId, body: Annotated[VerifyRequest | None, Body()] = None
) -> VerificationOut:
    """Every named check with evidence and fix; ``passed`` only if all passed."""
    report = _vendor(request).verify(tenant, body.version if body else None)
    return VerificationOut.of(report)


@router.post(
    "/{tenant}/activate", response_model=TenantOut,
    responses=responses_for(*_AUTH, 409, 413, 422, 500),
    summary="Use a verified configuration (tenant-admin)",
)  # fmt: skip
def activate(
    request: Request,
    tenant: TenantId,
    grant: Annotated[TokenGrant, Depends(requires(Action.CONFIG_WRITE))],
    body: Annotated[ActivateRequest | None, Body()] = None,
) -> TenantOut:
    """The tenant becomes ACTIVE with this configuration version (default: the newest).

    A version whose key (or client role) is in an AWS account the tenant's active
    configuration does not use needs a second principal's approval first: without it, 403
    ``ApprovalRequired`` with the fix (docs/SECURITY.md, re-rooting)."""
    version = body.version if body else None
    return TenantOut.of(_vendor(request).activate(tenant, version, _principal(grant)))


@router.post(
    "/{tenant}/key-configs/{version}/approve", response_model=KeyConfigOut,
    responses=responses_for(*_AUTH, 409, 422, 500),
    summary="Approve a key configuration as a second principal (operator)",
)  # fmt: skip
def approve(
    request: Request,
    tenant: TenantId,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    grant: Annotated[TokenGrant, Depends(requires(Action.CONFIG_APPROVE))],
) -> KeyConfigOut:
    """Record the approval that re-rooting needs: by an operator (or, when the vendor set
    ``BYOK_TENANT_ADMIN_APPROVALS=1``, a tenant-admin), never by the token that submitted
    the version (403). The tenant's webhook hears of it."""
    stored = _vendor(request).approve(tenant, version, _principal(grant))
    return KeyConfigOut.of(tenant, stored)


def _principal(grant: TokenGrant) -> Principal:
    return Principal.of_token(grant.token_id, grant.role.value)


@router.post(
    "/{tenant}/tokens", status_code=201, response_model=TokenCreatedOut,
    responses=responses_for(*_AUTH, 413, 422, 500),
    summary="Mint a token for this tenant (operator; tenant-admin: writer/reader only)",
)  # fmt: skip
def create_token(
    request: Request,
    tenant: TenantId,
    body: TokenCreateIn,
    grant: Annotated[TokenGrant, Depends(requires(Action.TOKEN_CREATE))],
) -> TokenCreatedOut:
    """A new bearer token; the response is the only time it is shown."""
    if grant.role != Role.OPERATOR and body.role == Role.TENANT_ADMIN.value:
        raise HTTPException(403, "only an operator may mint tenant-admin tokens")
    minted = TokenRepository(_vendor(request).store).mint(body.role, tenant=tenant,
                                                          label=body.label)  # fmt: skip
    return TokenCreatedOut(**TokenOut.of(minted.grant).model_dump(), token=minted.token)


@router.get(
    "/{tenant}/tokens", response_model=list[TokenOut], responses=responses_for(*_AUTH, 500),
    summary="This tenant's tokens (never their secrets)",
    dependencies=[Depends(requires(Action.TOKEN_CREATE))],
)  # fmt: skip
def list_tokens(request: Request, tenant: TenantId) -> list[TokenOut]:
    """Every token of the tenant, oldest first."""
    return [TokenOut.of(g) for g in TokenRepository(_vendor(request).store).list(tenant=tenant)]


@router.delete(
    "/{tenant}/tokens/{token_id}", status_code=204, response_class=Response,
    responses=responses_for(*_AUTH, 500), summary="Revoke a token of this tenant",
    dependencies=[Depends(requires(Action.TOKEN_CREATE))],
)  # fmt: skip
def revoke_token(request: Request, tenant: TenantId, token_id: str) -> Response:
    """Revoke (idempotent); every server refuses the token from the cluster signal on."""
    TokenRepository(_vendor(request).store).revoke(token_id, tenant=tenant)
    request.app.state.authenticator.forget(token_id)
    return Response(status_code=204)
