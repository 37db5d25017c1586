"""Bearer-token authentication and the role/tenant check every route makes.

A request carries ``Authorization: Bearer <token>``; :class:`Authenticator` resolves it to a
:class:`~byok.store.tokens.TokenGrant` (role and tenant). Each route names one
:class:`Action`; :func:`authorize` allows it only if the token's role may do the action
**and** the token's tenant is the tenant in the path.

Non-disclosure: a tenant-scoped token used on another tenant's path gets exactly the 404 a
missing resource of its own tenant would get, decided before anything is looked up, so the
answer never depends on what the other tenant has. A role that may not do the action on its
own tenant gets 403. No token, or an invalid one, gets 401.

Grants are cached for a few seconds (``cache_ttl_s``) so a request costs no token read; a
revoked token stops working within that time.
"""

from __future__ import annotations

import enum
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from byok.errors import NotFound
from byok.service.audit import acting_as
from byok.store.tokens import Role, TokenGrant, TokenRepository, token_id_of

__all__ = [
    "ROLE_ACTIONS",
    "Action",
    "AuditActorMiddleware",
    "Authenticator",
    "authorize",
    "check_grant",
    "not_yours",
    "requires",
]


class Action(enum.StrEnum):
    """What a route does (the permission it needs)."""

    TENANT_CREATE = "tenant:create"
    TENANT_LIST = "tenant:list"
    TENANT_READ = "tenant:read"
    TENANT_OFFBOARD = "tenant:offboard"
    CONFIG_WRITE = "config:write"
    CONFIG_READ = "config:read"
    AUDIT_READ = "audit:read"
    DOC_WRITE = "document:write"
    DOC_READ = "document:read"
    TOKEN_CREATE = "token:create"  # noqa: S105 - a permission name
    TENANT_EXPORT = "tenant:export"
    MONITOR_READ = "monitor:read"
    METRICS_READ = "metrics:read"


_A = Action
_READ = frozenset({_A.DOC_READ})
_WRITE = _READ | {_A.DOC_WRITE}
_ADMIN = _WRITE | {_A.TENANT_READ, _A.CONFIG_WRITE, _A.CONFIG_READ, _A.AUDIT_READ,
                   _A.TOKEN_CREATE, _A.TENANT_EXPORT}  # fmt: skip
#: The permission table: the only statement of who may do what.
_OPERATOR = frozenset({_A.TENANT_CREATE, _A.TENANT_LIST, _A.TENANT_READ, _A.CONFIG_READ,
                       _A.TOKEN_CREATE, _A.MONITOR_READ, _A.METRICS_READ,
                       _A.TENANT_OFFBOARD})  # fmt: skip
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OPERATOR: _OPERATOR,
    Role.TENANT_ADMIN: _ADMIN,
    Role.WRITER: _WRITE,
    Role.READER: _READ,
}


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="byok"'})


class Authenticator:
    """Resolves bearer tokens to grants, with a short-lived cache of valid ones.

    Args:
        tokens: the token repository.
        cache_ttl_s: seconds a valid grant is reused without a database read (0: never).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        tokens: TokenRepository,
        *,
        cache_ttl_s: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = tokens
        self._ttl = cache_ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # Keyed by the token's SHA-256, never the token itself.
        self._cache: OrderedDict[str, tuple[float, TokenGrant]] = OrderedDict()

    def grant_for(self, authorization: str | None) -> TokenGrant:
        """Return the grant of the ``Authorization`` header's bearer token.

        Raises:
            HTTPException: 401 when the header is missing, not ``Bearer`` or the token is
                unknown or revoked.
            StorageError: the token table cannot be read.
        """
        if not authorization:
            raise _unauthorized("a bearer token is required")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("use the Authorization: Bearer <token> scheme")
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        cached = self._cached(digest)
        if cached is not None:
            return cached
        grant = self.tokens.authenticate(token)
        if grant is None:
            raise _unauthorized("the token is not valid (unknown, malformed or revoked)")
        self._remember(digest, grant)
        return grant

    def forget(self) -> None:
        """Drop every cached grant (e.g. after a revocation in this process)."""
        with self._lock:
            self._cache.clear()

    def _cached(self, digest: str) -> TokenGrant | None:
        if self._ttl <= 0:
            return None
        with self._lock:
            entry = self._cache.get(digest)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._cache[digest]
                return None
            return entry[1]

    def _remember(self, digest: str, grant: TokenGrant) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._cache[digest] = (self._clock() + self._ttl, grant)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)


def not_yours(tenant: str, document: str | None) -> NotFound:
    """The 404 a tenant-scoped token gets for another tenant's path.

    Returns:
        The same :class:`NotFound` a missing document (or tenant) of the token's own tenant
        produces, so the answer says nothing about the other tenant.
    """
    if document is not None:
        return NotFound(f"no document {document!r}", tenant=tenant, operation="document")
    return NotFound("no such tenant", tenant=tenant)


_bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="An API token: byok_<token id>_<secret>")  # fmt: skip


def authorize(
    request: Request, action: Action, tenant: str | None = None, document: str | None = None
) -> TokenGrant:
    """Authenticate the request and check ``action`` on ``tenant``.

    Returns:
        The caller's grant (the route may use its ``token_id`` for auditing).

    Raises:
        HTTPException: 401 (no valid token) or 403 (the role may not do ``action``).
        NotFound: the token belongs to another tenant (see :func:`not_yours`).
    """
    authenticator: Authenticator = request.app.state.authenticator
    grant = authenticator.grant_for(request.headers.get("authorization"))
    request.state.token_id = grant.token_id
    check_grant(grant, action, tenant, document)
    return grant


def check_grant(
    grant: TokenGrant, action: Action, tenant: str | None = None, document: str | None = None
) -> None:
    """Check that ``grant`` may do ``action`` on ``tenant`` (the API and the web console).

    Raises:
        NotFound: the grant belongs to another tenant (see :func:`not_yours`), decided first.
        HTTPException: 403 when the role may not do ``action``.
    """
    if grant.tenant is not None and tenant is not None and grant.tenant != tenant:
        raise not_yours(tenant, document)
    if action not in ROLE_ACTIONS[grant.role]:
        raise HTTPException(403, f"a {grant.role} token may not do {action}")
    if grant.tenant is not None and tenant is None:
        raise HTTPException(403, f"{action} is vendor-wide: it needs an operator token")


def requires(action: Action) -> Callable[..., TokenGrant]:
    """A route dependency checking ``action`` on the path's ``tenant`` (and ``name``).

    It runs before the request's parameters and body are validated, so an unauthorised
    caller learns nothing, not even whether its input was well-formed.

    Returns:
        The dependency (it returns the caller's :class:`TokenGrant`).
    """

    def dependency(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenGrant:
        params = request.path_params
        return authorize(request, action, params.get("tenant"), params.get("name"))

    return dependency


class AuditActorMiddleware:
    """Attribute the audit events of a request to its token: ``token:<token id>``.

    The id is read from the bearer token's public part before authentication; that is safe
    because a request whose token does not authenticate is refused before byok acts, so no
    event is recorded under an unproven id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token_id = None
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"authorization" and value[:7].lower() == b"bearer ":
                    token_id = token_id_of(value[7:].decode("latin-1").strip())
        if token_id is None:
            await self.app(scope, receive, send)
            return
        with acting_as(f"token:{token_id}"):
            await self.app(scope, receive, send)
