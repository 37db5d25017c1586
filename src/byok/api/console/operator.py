"""The vendor operator's page: tenants by state, the key monitor, the latest refusals."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from byok.api.auth import Action
from byok.api.console.context import call, monitor_of, vendor_of, viewer_for
from byok.api.console.render import page
from byok.service.overview import operator_overview

__all__ = ["router"]

router = APIRouter()


@router.get("/operator")
async def operator_home(request: Request) -> Response:
    """Every tenant grouped by lifecycle state, the monitor's last sweep, recent refusals."""
    viewer = await viewer_for(request, Action.TENANT_LIST)
    await viewer_for(request, Action.MONITOR_READ)
    overview = await call(viewer, operator_overview, vendor_of(request), monitor_of(request))
    return page("operator.html", viewer=viewer, title="Operator: tenants and keys", o=overview)
