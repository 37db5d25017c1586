"""The byok REST API: :func:`create_app` over a :class:`~byok.service.vendor.Vendor`.

The API only parses input, checks the caller's token (:mod:`byok.api.auth`), calls the
service and maps errors (:mod:`byok.api.problems`); everything else is the service's.
Blocking service calls run in worker threads; uploads and downloads stream. Who may hold
what (body timeouts, concurrent uploads, separate thread limiters): :mod:`byok.api.limits`.

Serve it with uvicorn (``byok serve``)::

    app = create_app(open_vendor(), monitor=KeyMonitor(vendor))
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI

from byok.api.authn import AuthenticationMiddleware, Authenticator
from byok.api.console import create_console
from byok.api.limits import (
    LoopLimiter,
    RequestGuardMiddleware,
    ServingLimits,
    UploadGate,
    UploadGateMiddleware,
    install_limit_handlers,
)
from byok.api.metrics import ApiMetrics, MetricsMiddleware
from byok.api.probes import Readiness
from byok.api.problems import install_problem_handlers, problem_openapi
from byok.api.routes import documents, key_events, service, tenants
from byok.api.streams import AbortedDownloadMiddleware
from byok.service.monitor import KeyMonitor
from byok.service.vendor import Vendor
from byok.store.tokens import TokenRepository

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_JSON_BYTES", "create_app"]

DEFAULT_MAX_BODY_BYTES = ServingLimits.max_body_bytes  # one document upload: 1 GiB
DEFAULT_MAX_JSON_BYTES = ServingLimits.max_json_bytes  # any other request body
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
    max_body_bytes: int | None = None,
    max_json_bytes: int | None = None,
    limits: ServingLimits | None = None,
    console: bool = True,
    verify_before_send_bytes: int | None = None,
) -> FastAPI:
    """Build the API application.

    Args:
        vendor: the service.
        monitor: the key monitor to report on (and start/stop with the app), if any.
        max_body_bytes: largest document upload (bigger: 413); overrides ``limits``.
        max_json_bytes: largest body of every other request (bigger: 413); overrides
            ``limits``.
        limits: body, timeout and upload-concurrency limits (default
            :class:`ServingLimits`; docs/OPERATIONS.md#serving).
        console: serve the web console under ``/console`` (docs/CONSOLE.md); it
            authenticates its own sessions.
        verify_before_send_bytes: documents stored in at most this many bytes are verified
            whole before the response starts (default: the vendor's settings,
            ``BYOK_VERIFY_BEFORE_SEND_BYTES``, 1 MiB); larger ones stream (docs/API.md).

    Returns:
        The FastAPI application.
    """
    limits = replace(
        limits or ServingLimits(),
        **{k: v for k, v in (("max_body_bytes", max_body_bytes),
                             ("max_json_bytes", max_json_bytes)) if v is not None},
    )  # fmt: skip
    app = FastAPI(
        title="byok", version=API_VERSION, description=_DESCRIPTION,
        lifespan=_lifespan(monitor, vendor),
    )  # fmt: skip
    metrics = ApiMetrics(vendor)
    app.state.vendor = vendor
    app.state.monitor = monitor
    app.state.limits = limits
    app.state.max_body_bytes = limits.max_body_bytes
    uploads = app.state.uploads = UploadGate(limits)
    app.state.upload_threads = LoopLimiter(limits.uploads_total)
    app.state.verify_before_send_bytes = (
        vendor.settings.verify_before_send_bytes
        if verify_before_send_bytes is None
        else verify_before_send_bytes
    )
    app.state.metrics = metrics
    app.state.readiness = Readiness(vendor.store)
    authenticator = Authenticator(TokenRepository(vendor.store))
    app.state.authenticator = authenticator
    authenticator.listen(vendor.store.signals)  # revocations reach this process at once
    install_problem_handlers(app, on_key_error=metrics.count_key_error)
    install_limit_handlers(app)
    for module in (tenants, documents, service, key_events):
        app.include_router(module.router)
    if console:
        app.mount("/console", create_console(vendor, monitor=monitor))
    # Outermost last: metrics see every answer; authentication runs before the body is read.
    app.add_middleware(RequestGuardMiddleware, limits=limits)
    app.add_middleware(UploadGateMiddleware, gate=uploads)
    app.add_middleware(AuthenticationMiddleware, authenticator=authenticator)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(AbortedDownloadMiddleware)  # outermost: a cut-off download ends quietly
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


def _lifespan(
    monitor: KeyMonitor | None, vendor: Vendor
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the cluster signal listener and the key monitor (if any) with the app; stop
    them (releasing the monitor's lease) after."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        vendor.store.signals.start()  # other nodes' purges and revocations reach this one
        if monitor is not None:
            monitor.start()
        try:
            yield
        finally:
            if monitor is not None:
                monitor.stop()
            vendor.store.signals.stop()

    return lifespan
