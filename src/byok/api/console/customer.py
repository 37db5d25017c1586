"""The customer admin's key dashboard, audit download and export.

Every page is one tenant's and needs a token of that tenant (or is answered like a tenant
that does not exist); the facts come from :func:`byok.service.overview.tenant_overview`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response, StreamingResponse

from byok.api.auth import Action
from byok.api.console.context import call, posted, vendor_of, viewer_for
from byok.api.console.render import page
from byok.api.models import TENANT_PATTERN
from byok.api.streams import iter_text_writer
from byok.service.export import export_tenant
from byok.service.overview import tenant_overview

__all__ = ["router"]

router = APIRouter()
TenantId = Annotated[str, PathParam(pattern=TENANT_PATTERN)]


@router.get("/t/{tenant}")
async def dashboard(request: Request, tenant: TenantId) -> Response:
    """The tenant's state, key in use, documents, migration, key-use timeline, audit head."""
    viewer = await viewer_for(request, Action.AUDIT_READ, tenant)
    overview = await call(viewer, tenant_overview, vendor_of(request), tenant)
    return page("dashboard.html", viewer=viewer, title=f"{tenant}: key dashboard", o=overview)


@router.get("/t/{tenant}/audit.jsonl")
async def audit_download(request: Request, tenant: TenantId) -> Response:
    """The tenant's audit events as JSON Lines (each with its hashes), as a download."""
    viewer = await viewer_for(request, Action.AUDIT_READ, tenant)
    vendor = vendor_of(request)
    await call(viewer, vendor.tenants.get, tenant)  # NotFound before the download starts
    chunks = iter_text_writer(lambda out: vendor.audit.export_jsonl(tenant, out))
    headers = {"Content-Disposition": f'attachment; filename="{tenant}-audit.jsonl"'}
    return StreamingResponse(chunks, media_type="application/x-ndjson", headers=headers)


@router.post("/t/{tenant}/export")
async def export(request: Request, tenant: TenantId) -> Response:
    """Build the tenant's portable export bundle and send it as one zip file.

    The bundle holds documents as stored (encrypted) and wrapped tenant keys: the customer
    decrypts it with its own AWS credentials (``byok customer decrypt-export``). It is built in a
    private temporary folder that is removed once the download has been sent.
    """
    viewer, _ = await posted(request, Action.TENANT_EXPORT, tenant)
    work = Path(tempfile.mkdtemp(prefix="byok-console-export-"))
    try:
        await call(viewer, export_tenant, vendor_of(request), tenant, work / "bundle")
        archive = await call(viewer, shutil.make_archive, str(work / tenant), "zip",
                             root_dir=work / "bundle")  # fmt: skip
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        archive, media_type="application/zip", filename=f"{tenant}-export.zip",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )  # fmt: skip
