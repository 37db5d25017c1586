"""The byok REST API: :func:`create_app` over a :class:`~byok.service.vendor.Vendor`.

The API only parses input, checks the caller's token (:mod:`byok.api.auth`), calls the
service and maps errors (:mod:`byok.api.problems`); everything else is the service's.
Blocking service calls run in worker threads; uploads and downloads stream.

Serve it with uvicorn (``byok serve``)::

    app = create_app(open_vendor(), monitor=KeyMonitor(vendor))
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byok.api.auth import AuditActorMiddleware, Authenticator
from byok.api.console import create_console
from byok.api.metrics import ApiMetrics, MetricsMiddleware
from byok.api.problems import (
    BodyTooLarge,
    install_problem_handlers,
    problem_openapi,
    problem_response,
)
from byok.api.routes import documents, service, tenants
from byok.service.monitor import KeyMonitor
from byok.service.vendor import Vendor
from byok.store.tokens import TokenRepository

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_JSON_BYTES", "create_app"]

DEFAULT_MAX_BODY_BYTES = 1024**3  # one document upload: 1 GiB
DEFAULT_MAX_JSON_BYTES = 64 * 1024  # any other request body
API_VERSION = "1.0.0"

_DESCRIPTION = """\
Bring-your-own-key document storage. Every request needs `Authorization: Bearer <token>`
(except `/healthz` and `/readyz`). Tokens are scoped to one tenant and a role
(`tenant-admin`, `writer`, `reader`) or vendor-wide (`operator`). Errors are
`application/problem+json` (RFC 9457) with `error`, `tenant`, `operation` and `fix`;
a customer-side key problem is 503 with the fix the customer can apply. See docs/API.md.
"""


def create_app(
    vendor: Vendor,
    *,
    monitor: KeyMonitor | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    token_cache_ttl_s: float = 5.0,
    console: bool = True,
) -> FastAPI:
    """Build the API application.

    Args:
        vendor: the service.
        monitor: the key monitor to report on (and start/stop with the app), if any.
        max_body_bytes: largest document upload (bigger: 413).
        max_json_bytes: largest body of every other request (bigger: 413).
        token_cache_ttl_s: seconds a valid token is trusted without a database read (a
            revoked token keeps working at most this long).
        console: serve the web console under ``/console`` (docs/CONSOLE.md).

    Returns:
        The FastAPI application.
    """

    app = FastAPI(
        title="byok", version=API_VERSION, description=_DESCRIPTION, lifespan=_lifespan(monitor),
    )  # fmt: skip
    metrics = ApiMetrics(vendor)
    app.state.vendor = vendor
    app.state.monitor = monitor
    app.state.max_body_bytes = max_body_bytes
    app.state.metrics = metrics
    app.state.authenticator = Authenticator(
        TokenRepository(vendor.store), cache_ttl_s=token_cache_ttl_s
    )
    install_problem_handlers(app, on_key_error=metrics.count_key_error)
    for module in (tenants, documents, service):
        app.include_router(module.router)
    if console:
        app.mount("/console", create_console(vendor, monitor=monitor))
    app.add_middleware(BodyLimitMiddleware, documents=max_body_bytes, other=max_json_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AuditActorMiddleware)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Generate the OpenAPI document once, with every error response a problem body."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_openapi(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _lifespan(monitor: KeyMonitor | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the key monitor (if any) with the app and stop it (releasing its lease) after."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if monitor is not None:
            monitor.start()
        try:
            yield
        finally:
            if monitor is not None:
                monitor.stop()

    return lifespan


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413: at once when ``Content-Length`` says
    so, else when the streamed body passes it (the route then fails; nothing is stored).

    Args:
        app: the wrapped application.
        documents: the limit for document uploads (``PUT .../documents/...``).
        other: the limit for every other request.
    """

    def __init__(self, app: ASGIApp, *, documents: int, other: int) -> None:
        self.app = app
        self.documents = documents
        self.other = other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "PUT" and "/documents/" in scope["path"]
        limit = self.documents if upload else self.other
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = problem_response(
                413, error="BodyTooLarge", detail=str(BodyTooLarge(limit)),
                extra={"fix": f"Send at most {limit} bytes in one request."},
                headers={"Connection": "close"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
