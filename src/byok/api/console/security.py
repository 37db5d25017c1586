"""Console sign-in, sessions, CSRF and security headers.

* **Sign-in** exchanges a tenant-admin or operator API token for a session
  (:mod:`byok.store.console_sessions`); the cookie holds only the session's random secret
  (``HttpOnly``, ``SameSite=Strict``, ``Path=/console``, ``Secure`` over TLS). The token is
  read from a POST body once and never appears in a URL, a page or a log.
* **CSRF**: every form carries a token derived from the session secret
  (HMAC-SHA256(secret, "csrf")); the sign-in form, before any session exists, uses a
  double-submit cookie the same way. A POST without the right token, or whose ``Origin``
  is another site, is refused with 403 before anything is done.
* **Headers**: a strict Content-Security-Policy (no inline script or style: only this
  origin's static files), no framing, no referrer to other sites (``same-origin``: with
  ``no-referrer`` browsers send ``Origin: null`` on form posts, which the origin check
  refuses), no caching of pages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byok.store.tokens import Role, TokenGrant

__all__ = [
    "CONSOLE_ROLES",
    "CONTENT_SECURITY_POLICY",
    "COOKIE_PATH",
    "SESSION_COOKIE",
    "SIGNIN_COOKIE",
    "SecurityHeaders",
    "Viewer",
    "check_form",
    "clear_session_cookie",
    "expected_signin_token",
    "set_session_cookie",
    "set_signin_cookie",
    "signin_token",
]

SESSION_COOKIE = "byok_console"
SIGNIN_COOKIE = "byok_console_signin"
COOKIE_PATH = "/console"
CONSOLE_ROLES = (Role.OPERATOR, Role.TENANT_ADMIN)
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)


def _derive(secret: str, purpose: bytes) -> str:
    return hmac.new(secret.encode("utf-8", "replace"), purpose, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """Who is signed in: the token's grant and the CSRF token for this session's forms."""

    grant: TokenGrant
    csrf: str

    @classmethod
    def of(cls, grant: TokenGrant, secret: str) -> Viewer:
        """The viewer of a session whose cookie secret is ``secret``."""
        return cls(grant, _derive(secret, b"byok-console-csrf"))

    @property
    def home(self) -> str:
        """The viewer's start page."""
        if self.grant.role == Role.OPERATOR:
            return "/console/operator"
        return f"/console/t/{self.grant.tenant}"


def signin_token(request: Request) -> tuple[str, str | None]:
    """The sign-in form's CSRF token, and a new double-submit cookie value if one is needed.

    Returns:
        ``(form token, cookie to set or None)``.
    """
    cookie = request.cookies.get(SIGNIN_COOKIE)
    fresh = None
    if not cookie or len(cookie) > 128:
        cookie = fresh = secrets.token_urlsafe(32)
    return _derive(cookie, b"byok-console-signin"), fresh


def check_form(request: Request, form: FormData, expected: str | None) -> None:
    """Refuse a POST whose CSRF token is missing or wrong, or that comes from another site.

    Args:
        request: the request.
        form: its parsed form.
        expected: the CSRF token this session's forms carry (None: no session, refuse).

    Raises:
        HTTPException: 403.
    """
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise HTTPException(403, "the form was posted from another site")
    presented = form.get("csrf_token")
    if expected is None or not isinstance(presented, str):
        raise HTTPException(403, "the form's CSRF token is missing: reload the page")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(403, "the form's CSRF token is not valid: reload the page")


def expected_signin_token(request: Request) -> str | None:
    """The CSRF token the sign-in form must carry (None without the double-submit cookie)."""
    cookie = request.cookies.get(SIGNIN_COOKIE)
    if not cookie or len(cookie) > 128:
        return None
    return _derive(cookie, b"byok-console-signin")


def _own_origin(request: Request) -> str:
    url = request.url
    return f"{url.scheme}://{url.netloc}"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, secret: str, max_age: int) -> None:
    """Put the session secret in the console's cookie (HttpOnly, SameSite=Strict)."""
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=max_age, path=COOKIE_PATH, httponly=True,
        secure=_secure(request), samesite="strict",
    )  # fmt: skip
    response.delete_cookie(SIGNIN_COOKIE, path=COOKIE_PATH)


def set_signin_cookie(response: Response, request: Request, value: str) -> None:
    """Set the sign-in form's double-submit cookie."""
    response.set_cookie(
        SIGNIN_COOKIE, value, path=COOKIE_PATH, httponly=True, secure=_secure(request),
        samesite="strict",
    )  # fmt: skip


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


class SecurityHeaders:
    """Add the console's security headers (CSP and friends) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in _HEADERS}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message["headers"] = kept + list(_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
