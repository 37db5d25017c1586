"""The customer admin's onboarding wizard: from a new tenant to ACTIVE, both options.

1. **Choose**: the tenant's External ID; Option A (the key policy names the vendor's role) or
   Option B (a client role in the customer's account, assumed with the External ID), each
   explained as in the customer guide; the customer's account id for the templates.
2. **Apply**: the exact policy JSON (copy button), CloudFormation and Terraform downloads
   (:mod:`byok.core.policy.templates`, the same text the API and ``byok customer policy``
   give) and the one ``byok customer setup`` command that does it all.
3. **Hand over**: key ARN, region and (B) client role ARN, validated field by field by the
   same typed validators as the API (:class:`byok.core.tenant_config.TenantKeyConfig`).
4. **Verify** then **Activate** (page :mod:`byok.api.console.verify`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from byok.api.auth import Action
from byok.api.console.context import call, posted, vendor_of, viewer_for
from byok.api.console.render import page
from byok.api.console.security import Viewer
from byok.api.models import TENANT_PATTERN
from byok.api.policies import customer_documents, tenant_documents
from byok.core.arn import parse_key_arn
from byok.core.policy.templates import AccessLevers
from byok.errors import InvalidInput
from byok.service.onboarding import Principal
from byok.service.vendor import Vendor
from byok.store.tenants import Tenant

__all__ = ["router"]

router = APIRouter()
TenantId = Annotated[str, PathParam(pattern=TENANT_PATTERN)]
MODES = {"direct": "Option A", "assume-role": "Option B"}
CLIENT_ROLE = "byok-client-role"
_FIELDS = ("mode", "key_arn", "region", "client_role_arn")
_LEVER_FIELDS = {"deny_scope": "deny_scopes", "deny_period": "deny_periods"}
#: Documents shown on the page with a copy button (the rest are downloads only).
INLINE = ("key-policy-statements.json", "trust-policy.json", "permissions-policy.json")
DESCRIBED = {
    "key-policy-statements.json": "the statement(s) to add to your key's policy",
    "trust-policy.json": "Option B: the client role's trust policy",
    "key-policy.json": "the whole policy of a new key: your account, administrators, the vendor",
    "cloudformation.json": "CloudFormation: creates the key (and for Option B the client role)",
    "main.tf": "Terraform: the same as the CloudFormation template",
    "permissions-policy.json": "Option B: the client role's KMS permissions",
    "handover.json": "what you hand over",
}


def field_message(error: InvalidInput) -> str:
    """The error in words for the form field it names: what is wrong, then the fix."""
    message = error.message.removeprefix(f"{error.field}: ")
    return f"{message[:1].upper()}{message[1:]}. {error.fix}"


@dataclass(frozen=True)
class LeverForm:
    """The optional levers of step 1 (docs/CUSTOMER.md, "Levers"), as typed in the form."""

    scopes: str = ""
    periods: str = ""
    support: bool = False

    def levers(self) -> AccessLevers:
        """Raises InvalidInput (field ``deny_scope``, ``deny_period``) for a bad name."""
        return AccessLevers(
            deny_scopes=_words(self.scopes), deny_periods=_words(self.periods),
            deny_reasons=("vendor-support",) if self.support else (),
        )  # fmt: skip

    def query(self) -> str:
        """The same levers as query parameters (for the download links)."""
        return urlencode({"deny_scopes": self.scopes, "deny_periods": self.periods,
                          "deny_support": "1" if self.support else ""})  # fmt: skip


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.replace(",", " ").split())


def _kit(
    vendor: Vendor, tenant: Tenant, mode: str, account: str, levers: LeverForm = LeverForm()
) -> dict[str, str]:
    """The documents to apply: the full kit with an account id, else the account-free ones."""
    chosen = levers.levers()
    if not account:
        return tenant_documents(vendor.settings, tenant)[mode]
    return customer_documents(
        vendor.settings, tenant, mode=mode, customer_account=account, key_arn=None,
        client_role_name=CLIENT_ROLE, hardening=True, levers=chosen,
    )  # fmt: skip


def setup_command(vendor: Vendor, tenant: Tenant, mode: str) -> str:
    """The ``byok customer setup`` command that creates the key (and role) for this tenant."""
    role = vendor.settings.vendor_role_name
    parts = ["byok customer setup", f"--mode {mode}", f"--tenant {tenant.id}",
             f"--vendor-account {vendor.settings.vendor_account}"]  # fmt: skip
    if mode == "direct":
        parts.append(f"--vendor-role {role}")
    else:
        parts += [f"--document-storage-role {role}", f"--external-id {tenant.external_id}"]
    return " \\\n    ".join([*parts, "--handover-out handover.json"])


async def _render(
    request: Request,
    viewer: Viewer,
    tenant: str,
    *,
    mode: str = "",
    account: str = "",
    levers: LeverForm = LeverForm(),
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    vendor = vendor_of(request)
    row = await call(viewer, vendor.tenants.get, tenant)
    errors = dict(errors or {})
    kit: dict[str, str] = {}
    if mode in MODES:
        try:
            kit = await call(viewer, _kit, vendor, row, mode, account, levers)
        except InvalidInput as exc:
            errors[_LEVER_FIELDS.get(exc.field, exc.field)] = field_message(exc)
            kit = await call(viewer, _kit, vendor, row, mode, "")
            status = 422
    configs = await call(viewer, vendor.tenants.configs, tenant)
    return page(
        "setup.html", viewer=viewer, title=f"{tenant}: set up your key", status=status,
        t=row, mode=mode if mode in MODES else "", account=account, kit=kit, modes=MODES,
        command=setup_command(vendor, row, mode) if mode in MODES else "",
        regions=vendor.settings.allowed_regions, values=values or {}, errors=errors,
        newest=configs[-1] if configs else None, vendor_role_arn=vendor.settings.vendor_role_arn,
        inline=INLINE, described=DESCRIBED, levers=levers,
    )  # fmt: skip


@router.get("/t/{tenant}/setup")
async def setup(
    request: Request,
    tenant: TenantId,
    mode: Annotated[str, Query(max_length=16)] = "",
    account: Annotated[str, Query(max_length=32)] = "",
    deny_scopes: Annotated[str, Query(max_length=512)] = "",
    deny_periods: Annotated[str, Query(max_length=512)] = "",
    deny_support: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    """Steps 1 to 3: External ID, option, levers, policies and templates, the hand-over form."""
    viewer = await viewer_for(request, Action.CONFIG_WRITE, tenant)
    levers = LeverForm(deny_scopes.strip(), deny_periods.strip(), bool(deny_support))
    return await _render(request, viewer, tenant, mode=mode, account=account.strip(),
                         levers=levers)  # fmt: skip


@router.get("/t/{tenant}/setup/files/{name}")
async def download(
    request: Request,
    tenant: TenantId,
    name: str,
    mode: Annotated[str, Query(max_length=16)],
    account: Annotated[str, Query(max_length=32)] = "",
    deny_scopes: Annotated[str, Query(max_length=512)] = "",
    deny_periods: Annotated[str, Query(max_length=512)] = "",
    deny_support: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    """One document of the kit as a download (CloudFormation, Terraform, policies)."""
    viewer = await viewer_for(request, Action.CONFIG_WRITE, tenant)
    if mode not in MODES:
        raise HTTPException(404, "choose Option A or Option B first")
    vendor = vendor_of(request)
    row = await call(viewer, vendor.tenants.get, tenant)
    levers = LeverForm(deny_scopes.strip(), deny_periods.strip(), bool(deny_support))
    kit = await call(viewer, _kit, vendor, row, mode, account.strip(), levers)
    if name not in kit:
        raise HTTPException(404, f"no document {name!r} for this option")
    kind = "application/json" if name.endswith(".json") else "text/plain"
    headers = {"Content-Disposition": f'attachment; filename="{tenant}-{name}"'}
    return Response(kit[name], media_type=f"{kind}; charset=utf-8", headers=headers)


def _handover(
    vendor: Vendor, tenant: Tenant, form: FormData, principal: Principal
) -> tuple[dict[str, str], dict[str, str]]:
    """Validate and submit the hand-over form.

    Returns:
        ``(values, errors)``: errors by form field (empty: the configuration was stored).
    """
    values = {name: str(form.get(name) or "").strip() for name in _FIELDS}
    mode = values["mode"]
    if mode not in MODES:
        return values, {"mode": "Choose Option A or Option B."}
    try:
        region = parse_key_arn(values["key_arn"]).region
    except InvalidInput as exc:
        return values, {"key_arn": field_message(exc)}
    if values["region"] != region:
        return values, {"region": f"The key ARN is in {region}: choose that region, or give "
                        f"the ARN of a key in {values['region']}."}  # fmt: skip
    try:
        vendor.submit_config(
            tenant.id, mode=mode, key_arn=values["key_arn"],
            client_role_arn=values["client_role_arn"] or None if mode == "assume-role" else None,
            external_id=tenant.external_id if mode == "assume-role" else None,
            principal=principal,
        )  # fmt: skip
    except InvalidInput as exc:
        field = exc.field if exc.field in _FIELDS else "key_arn"
        return values, {field: field_message(exc)}
    return values, {}


@router.post("/t/{tenant}/setup/handover")
async def handover(request: Request, tenant: TenantId) -> Response:
    """Step 4: store the key configuration, then go to Verify (or show the field errors)."""
    viewer, form = await posted(request, Action.CONFIG_WRITE, tenant)
    vendor = vendor_of(request)
    row = await call(viewer, vendor.tenants.get, tenant)
    principal = Principal.of_token(viewer.grant.token_id, viewer.grant.role.value)
    values, errors = await call(viewer, _handover, vendor, row, form, principal)
    if errors:
        return await _render(request, viewer, tenant, mode=values["mode"],
                             account=str(form.get("account") or ""), values=values,
                             errors=errors, status=422)  # fmt: skip
    return RedirectResponse(f"/console/t/{tenant}/setup/verify", status_code=303)
