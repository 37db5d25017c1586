"""The vendor operator's page: tenants by state, approvals waiting, the key monitor, refusals."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from byok.api.auth import Action
from byok.api.console.context import call, monitor_of, vendor_of, viewer_for
from byok.api.console.render import page
from byok.api.console.security import Viewer
from byok.errors import ByokError, mapping_for
from byok.service.overview import operator_overview

__all__ = ["render_operator", "router"]

router = APIRouter()


async def render_operator(
    request: Request, viewer: Viewer, *, error: ByokError | None = None
) -> Response:
    """The operator page, with ``error`` (and its status) shown above the tables if given."""
    overview = await call(viewer, operator_overview, vendor_of(request), monitor_of(request))
    return page("operator.html", viewer=viewer, title="Operator: tenants and keys", o=overview,
                error=error, status=mapping_for(error).http_status if error else 200)  # fmt: skip


@router.get("/operator")
async def operator_home(request: Request) -> Response:
    """Every tenant grouped by lifecycle state, the monitor's last sweep, recent refusals."""
    viewer = await viewer_for(request, Action.TENANT_LIST)
    await viewer_for(request, Action.MONITOR_READ)
    return await render_operator(request, viewer)
