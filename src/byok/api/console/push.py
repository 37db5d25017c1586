"""Push revocation for the customer admin: the forwarding rules and the key-event secret.

Without it, a revocation takes effect within the revocation bound (the key cache's TTL).
With EventBridge forwarding the customer's key and client-role events to the vendor's
key-event URL (``POST /v1/key-events/{tenant}``, :mod:`byok.service.key_events`), every node
re-checks the key within about a second. The page offers the forwarding rules as
CloudFormation and Terraform (:mod:`byok.core.policy.templates.forwarding`, the same text
as ``byok customer forwarding-rule``) and makes the tenant's key-event secret, shown once.
The URL offered is the vendor's ``BYOK_PUBLIC_URL`` + ``/v1/key-events/<tenant>``; without
that setting, the browser's own origin with a note that it may not be the public address
(:func:`byok.api.routes.key_events.key_event_url`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from starlette.exceptions import HTTPException
from starlette.responses import Response

from byok.api.auth import Action
from byok.api.console.context import call, posted, vendor_of, viewer_for
from byok.api.console.render import page
from byok.api.console.security import Viewer
from byok.api.console.wizard import field_message
from byok.api.models import TENANT_PATTERN
from byok.api.routes.key_events import key_event_url
from byok.core.policy.templates import render_json
from byok.core.policy.templates.forwarding import (
    ForwardingSetup,
    forwarding_cloudformation,
    forwarding_terraform,
)
from byok.errors import InvalidInput
from byok.service.vendor import Vendor

__all__ = ["router"]

router = APIRouter()
TenantId = Annotated[str, PathParam(pattern=TENANT_PATTERN)]
Endpoint = Annotated[str, Query(max_length=2048)]
FILES = ("forwarding-cloudformation.json", "forwarding-main.tf")


def _setup(vendor: Vendor, tenant: str, endpoint: str) -> ForwardingSetup | None:
    """The forwarding set-up of the tenant's active key (None: no key in use yet).

    Raises:
        InvalidInput: the endpoint is not an https:// URL (field ``endpoint``).
    """
    active = vendor.tenants.active_config(tenant)
    if active is None:
        return None
    config = active.config
    return ForwardingSetup(tenant, config.key_arn, endpoint, config.client_role_arn)


async def _render(
    request: Request, viewer: Viewer, tenant: str, endpoint: str, *, secret: str | None = None
) -> Response:
    vendor = vendor_of(request)
    row = await call(viewer, vendor.tenants.get, tenant)
    policy = await call(viewer, vendor.policies.get, tenant)
    errors: dict[str, str] = {}
    offered = key_event_url(request, tenant)
    try:
        setup = await call(viewer, _setup, vendor, tenant, endpoint)
    except InvalidInput as exc:
        setup, errors = None, {"endpoint": field_message(exc)}
    active = await call(viewer, vendor.tenants.active_config, tenant)
    return page(
        "push.html", viewer=viewer, title=f"{tenant}: push revocation", t=row,
        push=policy.event_secret_hash is not None, endpoint=endpoint, errors=errors,
        endpoint_note=offered.note if endpoint == offered.url else None,
        ready=setup is not None, files=FILES, secret=secret,
        bound=vendor.settings.revocation_bound_s, has_key=active is not None,
        option_b=active is not None and active.config.client_role_arn is not None,
    )  # fmt: skip


@router.get("/t/{tenant}/push")
async def push_page(request: Request, tenant: TenantId, endpoint: Endpoint = "") -> Response:
    """Whether push revocation is set up, the forwarding rules, the secret form."""
    viewer = await viewer_for(request, Action.CONFIG_WRITE, tenant)
    endpoint = endpoint.strip() or key_event_url(request, tenant).url
    return await _render(request, viewer, tenant, endpoint)


@router.get("/t/{tenant}/push/files/{name}")
async def push_file(request: Request, tenant: TenantId, name: str, endpoint: Endpoint) -> Response:
    """The forwarding rules as a CloudFormation template or a Terraform file."""
    viewer = await viewer_for(request, Action.CONFIG_WRITE, tenant)
    if name not in FILES:
        raise HTTPException(404, f"no document {name!r}")
    setup = await call(viewer, _setup, vendor_of(request), tenant, endpoint.strip())
    if setup is None:
        raise HTTPException(404, "activate a key first: the rules name the key in use")
    if name.endswith(".json"):
        text, kind = render_json(forwarding_cloudformation(setup)), "application/json"
    else:
        text, kind = forwarding_terraform(setup), "text/plain"
    headers = {"Content-Disposition": f'attachment; filename="{tenant}-{name}"'}
    return Response(text, media_type=f"{kind}; charset=utf-8", headers=headers)


@router.post("/t/{tenant}/push/secret")
async def new_secret(request: Request, tenant: TenantId) -> Response:
    """Make (or replace) the key-event secret and show it this once."""
    viewer, form = await posted(request, Action.CONFIG_WRITE, tenant)
    vendor = vendor_of(request)
    await call(viewer, vendor.tenants.get, tenant)
    secret = await call(viewer, vendor.policies.new_event_secret, tenant)
    await call(viewer, vendor.audit.record, "tenant:key-event-secret", tenant=tenant)
    endpoint = str(form.get("endpoint") or "").strip() or key_event_url(request, tenant).url
    return await _render(request, viewer, tenant, endpoint, secret=secret)
