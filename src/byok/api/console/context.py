"""What every console route needs: the service, the signed-in viewer, checked forms.

Routes call :func:`viewer_for` (GET) or :func:`posted` (POST) first: both resolve the
session cookie, then check the action on the tenant with the API's own permission table
(:func:`byok.api.auth.check_grant`), so the console allows exactly what the API allows and
another tenant's pages answer like a tenant that does not exist. Blocking service calls run
in worker threads through :func:`call`, attributed in the audit log to the token that
signed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request

from byok.api.auth import Action, check_grant
from byok.api.console.security import SESSION_COOKIE, Viewer, check_form
from byok.service.audit import acting_as
from byok.service.monitor import KeyMonitor
from byok.service.vendor import Vendor
from byok.store.console_sessions import ConsoleSessions

__all__ = [
    "SignInRequired",
    "call",
    "current_viewer",
    "monitor_of",
    "posted",
    "sessions_of",
    "vendor_of",
    "viewer_for",
]

T = TypeVar("T")


class SignInRequired(Exception):
    """No live session: the console answers with a redirect to the sign-in page."""


def vendor_of(request: Request) -> Vendor:
    """The service behind the console."""
    vendor: Vendor = request.app.state.vendor
    return vendor


def monitor_of(request: Request) -> KeyMonitor | None:
    """The key monitor of this server, if it runs one."""
    monitor: KeyMonitor | None = request.app.state.monitor
    return monitor


def sessions_of(request: Request) -> ConsoleSessions:
    """The console's session store."""
    sessions: ConsoleSessions = request.app.state.sessions
    return sessions


async def current_viewer(request: Request) -> Viewer | None:
    """The signed-in viewer, or None (no cookie, or the session or its token ended)."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    grant = await run_in_threadpool(sessions_of(request).resolve, secret)
    return None if grant is None else Viewer.of(grant, secret)


async def viewer_for(request: Request, action: Action, tenant: str | None = None) -> Viewer:
    """The viewer, allowed to do ``action`` on ``tenant``.

    Raises:
        SignInRequired: no live session.
        NotFound: another tenant's page (the same answer as a tenant that does not exist).
        HTTPException: 403 when the role may not do ``action``.
    """
    viewer = await current_viewer(request)
    if viewer is None:
        raise SignInRequired
    check_grant(viewer.grant, action, tenant)
    return viewer


async def posted(
    request: Request, action: Action, tenant: str | None = None
) -> tuple[Viewer, FormData]:
    """The viewer and the form of a POST, after the session, CSRF and permission checks.

    Raises:
        HTTPException: 403 for a missing or wrong CSRF token (checked before anything else
            is done), or a role that may not do ``action``.
        SignInRequired, NotFound: as :func:`viewer_for`.
    """
    form = await request.form()
    viewer = await current_viewer(request)
    check_form(request, form, viewer.csrf if viewer is not None else None)
    if viewer is None:
        raise SignInRequired
    check_grant(viewer.grant, action, tenant)
    return viewer, form


async def call(viewer: Viewer, function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a blocking service call in a worker thread, audited as the viewer's token."""

    def run() -> T:
        with acting_as(f"console:token:{viewer.grant.token_id}"):
            return function(*args, **kwargs)

    return await run_in_threadpool(run)
