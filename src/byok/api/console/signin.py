"""Sign-in and sign-out: a tenant-admin or operator token exchanged for a session."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from byok.api.console.context import call, current_viewer, sessions_of, vendor_of
from byok.api.console.render import page
from byok.api.console.security import (
    CONSOLE_ROLES,
    SESSION_COOKIE,
    Viewer,
    check_form,
    clear_session_cookie,
    expected_signin_token,
    set_session_cookie,
    set_signin_cookie,
    signin_token,
)
from byok.store.tokens import TokenRepository

__all__ = ["router"]

router = APIRouter()
_TOKEN_MAX = 200


@router.get("/")
async def start(request: Request) -> Response:
    """The viewer's home page, or the sign-in page."""
    viewer = await current_viewer(request)
    return RedirectResponse(viewer.home if viewer else "/console/signin", status_code=303)


def _signin_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    token, fresh = signin_token(request)
    response = page("signin.html", viewer=None, title="Sign in", csrf=token, error=error,
                    status=status)  # fmt: skip
    if fresh is not None:
        set_signin_cookie(response, request, fresh)
    return response


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    """The sign-in form (a signed-in viewer goes home)."""
    viewer = await current_viewer(request)
    if viewer is not None:
        return RedirectResponse(viewer.home, status_code=303)
    return _signin_page(request)


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Exchange the posted token for a session cookie; the token is not kept anywhere."""
    form = await request.form()
    check_form(request, form, expected_signin_token(request))
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    if not token or len(token) > _TOKEN_MAX:
        return _signin_page(request, error="Paste your byok token (byok_...).", status=400)
    grant = await run_in_threadpool(TokenRepository(vendor_of(request).store).authenticate, token)
    if grant is None:
        return _signin_page(request, error="That token is not valid (unknown or revoked).",
                            status=401)  # fmt: skip
    if grant.role not in CONSOLE_ROLES:
        return _signin_page(
            request, status=403,
            error=f"A {grant.role} token cannot sign in: use a tenant-admin or operator token.",
        )  # fmt: skip
    sessions = sessions_of(request)
    # A new sign-in never reuses a session: any earlier one of this browser ends here.
    await run_in_threadpool(sessions.close, request.cookies.get(SESSION_COOKIE))
    opened = await run_in_threadpool(sessions.open, grant)
    vendor = vendor_of(request)
    viewer = Viewer.of(grant, opened.secret)
    await call(viewer, vendor.audit.record, "console:sign-in", tenant=grant.tenant)
    response = RedirectResponse(viewer.home, status_code=303)
    set_session_cookie(response, request, opened.secret, int(sessions.lifetime.total_seconds()))
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End the session everywhere (the row is deleted) and clear the cookie."""
    form = await request.form()
    viewer = await current_viewer(request)
    check_form(request, form, viewer.csrf if viewer is not None else None)
    await run_in_threadpool(sessions_of(request).close, request.cookies.get(SESSION_COOKIE))
    if viewer is not None:
        await call(viewer, vendor_of(request).audit.record, "console:sign-out",
                   tenant=viewer.grant.tenant)  # fmt: skip
    response = RedirectResponse("/console/signin", status_code=303)
    clear_session_cookie(response)
    return response
