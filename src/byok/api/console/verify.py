"""The wizard's last steps: **Verify** runs the named checks, **Activate** puts the key in use.

Checks are rendered generically (name, status, evidence, fix) from whatever report the
service returns, so a check added to :mod:`byok.service.verification` appears here with no
change. Both actions are POSTs with CSRF tokens and redirect back (reloading never repeats
them); an error (e.g. activating an unverified configuration) is shown with its fix.

A newest configuration that moves the tenant to another AWS account waits for a second
principal's approval (:mod:`byok.api.console.approve`); the page says so, and offers the
**Approve** button to a tenant-admin that did not submit it when the vendor set
``BYOK_TENANT_ADMIN_APPROVALS=1``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from byok.api.auth import Action
from byok.api.console.context import call, posted, vendor_of, viewer_for
from byok.api.console.render import page
from byok.api.console.security import Viewer
from byok.api.models import TENANT_PATTERN
from byok.errors import ByokError, mapping_for
from byok.service.onboarding import Principal
from byok.service.overview import awaiting_approval

__all__ = ["render_verify", "router"]

router = APIRouter()
TenantId = Annotated[str, PathParam(pattern=TENANT_PATTERN)]


async def render_verify(
    request: Request, viewer: Viewer, tenant: str, *, error: ByokError | None = None
) -> Response:
    """The verify page of ``tenant``, with ``error`` (and its status) shown if given."""
    vendor = vendor_of(request)
    row = await call(viewer, vendor.tenants.get, tenant)
    configs = await call(viewer, vendor.tenants.configs, tenant)
    newest = configs[-1] if configs else None
    report: dict[str, Any] | None = None
    if newest is not None and newest.verification is not None:
        report = dict(newest.verification)
    waiting = await call(viewer, awaiting_approval, vendor, tenant)
    me = Principal.of_token(viewer.grant.token_id, viewer.grant.role.value)
    return page(
        "verify.html", viewer=viewer, title=f"{tenant}: verify and activate",
        status=mapping_for(error).http_status if error else 200,
        t=row, newest=newest, report=report, error=error,
        waiting=newest is not None and newest.version in {c.version for c in waiting},
        submitted_by_me=newest is not None and newest.submitted_by == me.id,
        may_approve=me.may_approve(vendor.settings.tenant_admin_approvals),
    )  # fmt: skip


@router.get("/t/{tenant}/setup/verify")
async def verify_page(request: Request, tenant: TenantId) -> Response:
    """The newest configuration, its last verification report, Verify and Activate."""
    viewer = await viewer_for(request, Action.CONFIG_WRITE, tenant)
    return await render_verify(request, viewer, tenant)


@router.post("/t/{tenant}/verify")
async def verify(request: Request, tenant: TenantId) -> Response:
    """Run every check on the newest configuration; the report is stored and shown."""
    viewer, _ = await posted(request, Action.CONFIG_WRITE, tenant)
    try:
        await call(viewer, vendor_of(request).verify, tenant)
    except ByokError as exc:
        return await render_verify(request, viewer, tenant, error=exc)
    return RedirectResponse(f"/console/t/{tenant}/setup/verify#report", status_code=303)


@router.post("/t/{tenant}/activate")
async def activate(request: Request, tenant: TenantId) -> Response:
    """Put the newest (verified) configuration in use; then the dashboard."""
    viewer, _ = await posted(request, Action.CONFIG_WRITE, tenant)
    try:
        principal = Principal.of_token(viewer.grant.token_id, viewer.grant.role.value)
        await call(viewer, vendor_of(request).activate, tenant, principal=principal)
    except ByokError as exc:
        return await render_verify(request, viewer, tenant, error=exc)
    return RedirectResponse(f"/console/t/{tenant}", status_code=303)
