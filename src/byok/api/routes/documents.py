"""Document routes: streaming upload and download, head, list, delete.

Uploads stream the raw request body into :meth:`Vendor.put_document` (never buffered
whole). Downloads are verified before anything is sent up to ``verify_before_send_bytes``
(a damaged document is a 422 problem); larger ones stream verified frames with an exact
``Content-Length`` and are cut off short of it if a later frame fails, so a client never
mistakes a truncated body for a complete one (``byok.api.streams``, docs/API.md).
"""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from byok.api.auth import Action, AuthorizedRoute, requires
from byok.api.limits import ServingLimits, prefetch
from byok.api.models import TENANT_PATTERN, DocumentOut, DocumentPageOut
from byok.api.problems import responses_for
from byok.api.streams import DownloadAborted, RequestBodyReader, verified_stream
from byok.core.key_use import CUSTOMER_REQUEST, KeyUse
from byok.errors import IntegrityError, InvalidInput
from byok.service.vendor import Vendor
from byok.store.documents import MAX_LIST_LIMIT, DocumentHead

__all__ = ["DownloadAborted", "router"]

router = APIRouter(
    prefix="/v1/tenants/{tenant}/documents", tags=["documents"], route_class=AuthorizedRoute
)
TenantId = Annotated[str, Path(pattern=TENANT_PATTERN, description="The tenant id")]
DocName = Annotated[str, Path(description="Document name (may contain '/'), URL-encoded")]
_KEY = (401, 403, 404, 409, 422, 500, 503)
_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_HEADERS = {
    "ETag": {"description": "The generation, quoted", "schema": {"type": "string"}},
    "X-Byok-Generation": {"description": "The version's generation", "schema": {"type": "integer"}},
}
#: ``verified``: the whole body was verified before sending; ``streamed``: each frame was
#: verified before it was sent, and only a body of exactly ``Content-Length`` bytes is complete.
INTEGRITY_HEADER = "X-Byok-Integrity"


#: Headers a caller might send to claim a reason: refused (docs/API.md#access-reasons).
REASON_HEADERS = ("Byok-Access-Reason", "Byok-Support-Ticket")
CUSTOMER_USE = KeyUse(CUSTOMER_REQUEST)


def access_use(request: Request) -> KeyUse:
    """Why this request uses the tenant's key (``byok:reason``): document routes take only
    tenant-scoped tokens, so always ``customer-request``. The vendor's own reasons
    (``vendor-service``, ``vendor-support`` with a ticket) are stated by its jobs and by
    ``byok doc get --reason``, never by an API caller.

    Raises:
        InvalidInput: the request tries to state a reason (the header is named).
    """
    for header in REASON_HEADERS:
        if header in request.headers:
            raise InvalidInput(
                header, "an API token always acts as customer-request",
                fix=f"Leave out {header}: vendor support reads go through `byok doc get "
                "--reason support --ticket ID`.",
            )  # fmt: skip
    return CUSTOMER_USE


def _vendor(request: Request) -> Vendor:
    vendor: Vendor = request.app.state.vendor
    return vendor


def _head_headers(head: DocumentHead) -> dict[str, str]:
    return {
        "ETag": f'"{head.generation}"',
        "X-Byok-Generation": str(head.generation),
        "X-Byok-Stored-Size": str(head.size),
        "X-Byok-Stored-Sha256": head.sha256,
        "Last-Modified": head.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


@router.get(
    "", response_model=DocumentPageOut, responses=responses_for(401, 403, 404, 422, 500),
    summary="List documents by name (writer, reader, tenant-admin)",
    dependencies=[Depends(requires(Action.DOC_READ))],
)  # fmt: skip
def list_documents(
    request: Request,
    tenant: TenantId,
    prefix: Annotated[str, Query(max_length=1024)] = "",
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 100,
) -> DocumentPageOut:
    """One page in name order; pass ``next_cursor`` as ``cursor`` for the next page."""
    page = _vendor(request).list_documents(tenant, prefix=prefix, cursor=cursor, limit=limit)
    return DocumentPageOut(items=[DocumentOut.of(h) for h in page.items],
                           next_cursor=page.next_cursor)  # fmt: skip


@router.put(
    "/{name:path}", response_model=DocumentOut, responses=responses_for(*_KEY, 413),
    summary="Upload a document (streamed; writer, tenant-admin)",
    openapi_extra={"requestBody": {"required": True, "content": _BINARY}},
    dependencies=[Depends(requires(Action.DOC_WRITE))],
)  # fmt: skip
async def put_document(request: Request, tenant: TenantId, name: DocName) -> DocumentOut:
    """Encrypt the raw request body under the tenant's key and store it as ``name``.

    At most so many uploads per token and per tenant at once (429 past it, before the body
    is read: ``byok.api.limits.UploadGateMiddleware``). The first part of the body is read
    without a thread (a small document is then complete), and the encrypt-and-store work
    runs on the upload threads, never on the threads the other routes use
    (docs/OPERATIONS.md#serving).
    """
    limits: ServingLimits = request.app.state.limits
    chunks = await prefetch(request.stream(), limits.upload_prefetch_bytes)
    body = RequestBodyReader(chunks, limits.max_body_bytes)
    head = await anyio.to_thread.run_sync(
        _vendor(request).put_document, tenant, name, body, access_use(request),
        limiter=request.app.state.upload_threads.get(),
    )  # fmt: skip
    return DocumentOut.of(head)


@router.get(
    "/{name:path}", response_class=StreamingResponse,
    responses={200: {"content": _BINARY, "description": "The plaintext, streamed",
                     "headers": _HEADERS}, **responses_for(*_KEY)},
    summary="Download a document (streamed; reader, writer, tenant-admin)",
    dependencies=[Depends(requires(Action.DOC_READ))],
)  # fmt: skip
def get_document(request: Request, tenant: TenantId, name: DocName) -> Response:
    """Decrypt and send ``name``; nothing unverified is ever sent.

    Up to ``verify_before_send_bytes`` stored bytes: verified whole first (a damaged document
    is a 422 problem). Larger: streamed with its exact ``Content-Length``, each frame verified
    before it is sent; a failure closes the connection short of it (docs/API.md).
    """
    opened = _vendor(request).get_document(tenant, name, access_use(request))
    headers = _head_headers(opened.head)
    if opened.head.size <= request.app.state.verify_before_send_bytes:
        body = opened.read_all()  # IntegrityError here: the 422 problem, nothing sent
        headers[INTEGRITY_HEADER] = "verified"
        return Response(body, media_type="application/octet-stream", headers=headers)
    size = opened.plaintext_size
    if size is None:  # the stored size fits no valid document: it cannot verify
        opened.close()
        raise IntegrityError(tenant=tenant, operation="document:get")
    headers.update({INTEGRITY_HEADER: "streamed", "Content-Length": str(size)})
    chunks = verified_stream(opened.chunks, opened.close, tenant, name)
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.head(
    "/{name:path}", response_class=Response,
    responses={200: {"description": "The document exists", "headers": _HEADERS},
               **responses_for(401, 403, 404, 422, 500)},
    summary="A document's stored version (no key needed)",
    dependencies=[Depends(requires(Action.DOC_READ))],
)  # fmt: skip
def head_document(request: Request, tenant: TenantId, name: DocName) -> Response:
    """Headers only: generation, stored size and SHA-256, last modified."""
    head = _vendor(request).head_document(tenant, name)
    return Response(status_code=200, headers=_head_headers(head))


@router.delete(
    "/{name:path}", response_model=DocumentOut,
    responses=responses_for(401, 403, 404, 409, 422, 500),
    summary="Delete a document (writer, tenant-admin)",
    dependencies=[Depends(requires(Action.DOC_WRITE))],
)  # fmt: skip
def delete_document(request: Request, tenant: TenantId, name: DocName) -> DocumentOut:
    """The deleted version's description."""
    return DocumentOut.of(_vendor(request).delete_document(tenant, name))
