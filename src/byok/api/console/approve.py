"""Approve a re-rooting configuration from the console, as the second principal.

A verified configuration that moves a tenant to a key (or client role) in another AWS
account is activated only once a principal other than its submitter approved it
(:func:`byok.service.onboarding.approve_config`, docs/SECURITY.md). The operator page lists
those configurations with an **Approve** button; when the vendor set
``BYOK_TENANT_ADMIN_APPROVALS=1``, the tenant's verify page offers it to a tenant-admin too.

The route is the API's ``POST /v1/tenants/{tenant}/key-configs/{version}/approve``: it checks
``config:approve`` with the API's permission table (an operator; a tenant-admin on its own
tenant only, another tenant answering 404), then acts as the signed-in token's
:class:`~byok.service.onboarding.Principal`. Whether that principal may approve is the
service's decision alone: it refuses the submitter, and tenant-admins unless the vendor
enabled them, with 403 ``ApprovalRequired`` shown on the page with its fix. The audit event
and the tenant's webhook come from the service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from byok.api.auth import Action
from byok.api.console.context import call, posted, vendor_of
from byok.api.console.operator import render_operator
from byok.api.console.verify import render_verify
from byok.api.models import TENANT_PATTERN
from byok.errors import ByokError
from byok.service.onboarding import Principal

__all__ = ["router"]

router = APIRouter()
TenantId = Annotated[str, PathParam(pattern=TENANT_PATTERN)]
Version = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


@router.post("/t/{tenant}/key-configs/{version}/approve")
async def approve(request: Request, tenant: TenantId, version: Version) -> Response:
    """Record the viewer's approval of ``version``; then back to the page it came from.

    An operator returns to the operator page, a tenant-admin to the tenant's verify page;
    a refusal (the submitter, a tenant-admin by default, no such version) is shown there.
    """
    viewer, _ = await posted(request, Action.CONFIG_APPROVE, tenant)
    principal = Principal.of_token(viewer.grant.token_id, viewer.grant.role.value)
    operator = viewer.grant.tenant is None
    try:
        await call(viewer, vendor_of(request).approve, tenant, version, principal)
    except ByokError as exc:
        if operator:
            return await render_operator(request, viewer, error=exc)
        return await render_verify(request, viewer, tenant, error=exc)
    back = "/console/operator#approvals" if operator else f"/console/t/{tenant}/setup/verify"
    return RedirectResponse(back, status_code=303)
