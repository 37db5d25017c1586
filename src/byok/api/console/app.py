"""The web console application, mounted by the API under ``/console`` (docs/CONSOLE.md).

Server-rendered pages over :mod:`byok.service` for the customer's admin (onboarding wizard,
key dashboard) and the vendor's operator (tenants, key monitor, refusals). Sign-in, sessions,
CSRF and the security headers: :mod:`byok.api.console.security`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from byok.api.console import approve, customer, operator, push, signin, verify, wizard
from byok.api.console.context import SignInRequired, current_viewer
from byok.api.console.render import page
from byok.api.console.security import SecurityHeaders
from byok.errors import ByokError, mapping_for
from byok.service.monitor import KeyMonitor
from byok.service.vendor import Vendor
from byok.store.console_sessions import ConsoleSessions

__all__ = ["create_console"]

_STATIC = Path(__file__).parent / "static"


def create_console(
    vendor: Vendor,
    *,
    monitor: KeyMonitor | None = None,
    session_lifetime: timedelta = timedelta(hours=8),
) -> FastAPI:
    """Build the console (mount it at ``/console``).

    Args:
        vendor: the service.
        monitor: the server's key monitor, shown on the operator's page.
        session_lifetime: how long a sign-in lasts.

    Returns:
        The console application.
    """
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.vendor = vendor
    app.state.monitor = monitor
    app.state.sessions = ConsoleSessions(vendor.store, lifetime=session_lifetime)
    for module in (signin, customer, wizard, verify, push, operator, approve):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    app.add_exception_handler(SignInRequired, _to_signin)
    app.add_exception_handler(ByokError, _on_byok_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_middleware(SecurityHeaders)
    return app


async def _to_signin(_: Request, __: Exception) -> Response:
    return RedirectResponse("/console/signin", status_code=303)


async def _on_byok_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ByokError)
    status = mapping_for(exc).http_status
    viewer = await current_viewer(request)
    return page("error.html", viewer=viewer, title=mapping_for(exc).title, status=status,
                message=exc.message, fix=exc.fix)  # fmt: skip


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    viewer = await current_viewer(request)
    titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed"}
    return page("error.html", viewer=viewer, title=titles.get(exc.status_code, "Error"),
                status=exc.status_code, message=str(exc.detail), fix=None)  # fmt: skip
