"""Service routes: audit export, key monitor, health and readiness probes, metrics."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from byok.api.auth import Action, AuthorizedRoute, requires
from byok.api.models import TENANT_PATTERN, MonitorOut, ProbeOut
from byok.api.probes import Readiness
from byok.api.problems import responses_for
from byok.api.streams import iter_text_writer
from byok.service.monitor import KeyMonitor
from byok.service.vendor import Vendor

__all__ = ["router"]

router = APIRouter(route_class=AuthorizedRoute)
TenantId = Annotated[str, Path(pattern=TENANT_PATTERN, description="The tenant id")]


def _vendor(request: Request) -> Vendor:
    vendor: Vendor = request.app.state.vendor
    return vendor


@router.get(
    "/v1/tenants/{tenant}/audit", response_class=StreamingResponse, tags=["audit"],
    responses={200: {"description": "One JSON object per line, in chain order, each with "
                     "prev_hash and hash", "content": {"application/x-ndjson": {
                         "schema": {"type": "string"}}}},
               **responses_for(401, 403, 404, 422, 500)},
    summary="Export the tenant's audit events as JSON Lines (tenant-admin)",
    dependencies=[Depends(requires(Action.AUDIT_READ))],
)  # fmt: skip
def export_audit(request: Request, tenant: TenantId) -> StreamingResponse:
    """Every event of the tenant (KMS calls with request ids, document operations)."""
    vendor = _vendor(request)
    vendor.tenants.get(tenant)  # NotFound before the response starts
    chunks = iter_text_writer(lambda out: vendor.audit.export_jsonl(tenant, out))
    return StreamingResponse(chunks, media_type="application/x-ndjson")


@router.get(
    "/v1/monitor", response_model=MonitorOut, tags=["service"],
    responses=responses_for(401, 403, 500), summary="Key monitor status (operator)",
    dependencies=[Depends(requires(Action.MONITOR_READ))],
)  # fmt: skip
def monitor_status(request: Request) -> MonitorOut:
    """The last key-monitor sweep and the number of tenants in each state."""
    monitor: KeyMonitor | None = request.app.state.monitor
    counts = Counter(str(t.state) for t in _vendor(request).tenants.list())
    last = monitor.last if monitor is not None else None
    return MonitorOut(
        enabled=monitor is not None,
        interval_s=monitor.interval_s if monitor is not None else None,
        last_sweep_ran=last.ran if last is not None else None,
        states={k: str(v) for k, v in (last.states if last else {}).items()},
        changed={k: [str(a), str(b)] for k, (a, b) in (last.changed if last else {}).items()},
        tenants_by_state=dict(counts),
    )


@router.get("/healthz", response_model=ProbeOut, tags=["service"], summary="Liveness probe")
async def healthz() -> ProbeOut:
    """The process serves requests (no dependency is checked; no thread is used)."""
    return ProbeOut(status="ok")


@router.get(
    "/readyz", response_model=ProbeOut, tags=["service"], summary="Readiness probe",
    responses={503: {"model": ProbeOut, "description": "The metadata database is unreachable"}},
)  # fmt: skip
async def readyz(request: Request) -> Any:
    """Ready when the metadata database answers (checked at most once a second, on a
    thread of its own: it never waits behind tenant requests)."""
    readiness: Readiness = request.app.state.readiness
    result = await readiness.check()
    if not result.ok:
        body = ProbeOut(status="unavailable", checks={"database": result.detail})
        return JSONResponse(body.model_dump(), status_code=503)
    return ProbeOut(status="ok", checks={"database": "ok"})


@router.get(
    "/metrics", response_class=Response, tags=["service"],
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                     "description": "Prometheus text format"},
               **responses_for(401, 403)},
    summary="Prometheus metrics (operator)",
    dependencies=[Depends(requires(Action.METRICS_READ))],
)  # fmt: skip
def metrics(request: Request) -> Response:
    """Request latency by route, AWS calls by operation, key errors, tenants by state."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
