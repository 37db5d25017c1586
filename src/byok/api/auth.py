"""Authorization: the role/tenant check every route makes, before its input is read.

:mod:`byok.api.authn` has already resolved the request's one bearer token to a
:class:`~byok.store.tokens.TokenGrant` (role and tenant) on the request state. Each route
names one :class:`Action`; :func:`authorize` allows it only if the token's role may do the
action **and** the token's tenant is the tenant in the path. :class:`AuthorizedRoute` runs
that check before the route's body is read or any parameter validated, so a caller who may
not call the route learns nothing from it, not even whether its input was well-formed.

Non-disclosure: a tenant-scoped token used on another tenant's path gets exactly the 404 a
missing resource of its own tenant would get, decided before anything is looked up, so the
answer never depends on what the other tenant has. A role that may not do the action on its
own tenant gets 403. No token, or an invalid one, gets 401 (from :mod:`byok.api.authn`).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from byok.errors import NotFound
from byok.store.tokens import Role, TokenGrant

__all__ = [
    "ROLE_ACTIONS",
    "Action",
    "AuthorizedRoute",
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
    CONFIG_APPROVE = "config:approve"  # the service also refuses the submitter (onboarding)
    AUDIT_READ = "audit:read"
    DOC_WRITE = "document:write"
    DOC_READ = "document:read"
    TOKEN_CREATE = "token:create"  # noqa: S105 - a permission name
    TENANT_EXPORT = "tenant:export"
    MONITOR_READ = "monitor:read"
    METRICS_READ = "metrics:read"
    SCOPES_WRITE = "scopes:write"  # the vendor defines a tenant's scopes; the customer sees them


_A = Action
_READ = frozenset({_A.DOC_READ})
_WRITE = _READ | {_A.DOC_WRITE}
_ADMIN = _WRITE | {_A.TENANT_READ, _A.CONFIG_WRITE, _A.CONFIG_READ, _A.AUDIT_READ,
                   _A.TOKEN_CREATE, _A.TENANT_EXPORT, _A.CONFIG_APPROVE}  # fmt: skip
#: The permission table: the only statement of who may do what.
_OPERATOR = frozenset({_A.TENANT_CREATE, _A.TENANT_LIST, _A.TENANT_READ, _A.CONFIG_READ,
                       _A.TOKEN_CREATE, _A.MONITOR_READ, _A.METRICS_READ,
                       _A.TENANT_OFFBOARD, _A.CONFIG_APPROVE, _A.SCOPES_WRITE})  # fmt: skip
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="byok"'}
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OPERATOR: _OPERATOR,
    Role.TENANT_ADMIN: _ADMIN,
    Role.WRITER: _WRITE,
    Role.READER: _READ,
}


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
    """Check ``action`` on ``tenant`` for the request's authenticated grant.

    Returns:
        The caller's grant.

    Raises:
        HTTPException: 401 (no authenticated grant: fail closed) or 403 (the role may not do
            ``action``).
        NotFound: the token belongs to another tenant (see :func:`not_yours`).
    """
    grant = getattr(request.state, "grant", None)
    if not isinstance(grant, TokenGrant):
        raise HTTPException(401, "a bearer token is required", headers=_CHALLENGE)
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


def requires(action: Action) -> Callable[..., Awaitable[TokenGrant]]:
    """A route dependency checking ``action`` on the path's ``tenant`` (and ``name``).

    :class:`AuthorizedRoute` finds the action on the dependency and runs the same check
    before the route reads its body; the dependency hands the grant to the route.

    Returns:
        The dependency (it returns the caller's :class:`TokenGrant`).
    """

    async def dependency(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenGrant:
        params = request.path_params
        return authorize(request, action, params.get("tenant"), params.get("name"))

    dependency.byok_action = action  # type: ignore[attr-defined]
    return dependency


class AuthorizedRoute(APIRoute):
    """A route that checks its :func:`requires` action before anything else.

    FastAPI reads and parses a request's body before it runs the route's dependencies, so
    malformed JSON would be answered 422 to a caller who may not call the route at all.
    This route class authorises first, then hands over to FastAPI's own handler.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, preceded by :func:`authorize` for the route's action."""
        handler = super().get_route_handler()
        action = _action_of(self.dependant)
        if action is None:
            return handler

        async def authorized(request: Request) -> Response:
            params = request.path_params
            authorize(request, action, params.get("tenant"), params.get("name"))
            return await handler(request)

        return authorized


def _action_of(dependant: Dependant) -> Action | None:
    for sub in dependant.dependencies:
        action = getattr(sub.call, "byok_action", None)
        if isinstance(action, Action):
            return action
        found = _action_of(sub)
        if found is not None:
            return found
    return None
