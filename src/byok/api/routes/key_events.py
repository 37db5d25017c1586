"""Push revocation and key policies: the key-event receiver, its secret, the tenant's policy.

``POST /v1/key-events/{tenant}`` is what the customer's EventBridge API destination calls
(authenticated by the tenant's key-event secret in ``X-Byok-Event-Key``, not by a bearer
token: docs/OPERATIONS.md#push-revocation). The other routes are a tenant-admin's.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from byok.api.auth import Action, AuthorizedRoute, requires
from byok.api.models import TENANT_PATTERN, KeyEventSecretOut, KeyPolicyIn, ScopesIn
from byok.api.problems import problem_response, responses_for
from byok.service.key_events import SECRET_HEADER, KeyEventReceiver, KeyEventRejected
from byok.service.key_loss import set_key_policy
from byok.service.scopes import configure_scopes
from byok.service.vendor import Vendor

__all__ = ["EVENTS_PREFIX", "KeyEventUrl", "key_event_url", "receiver", "router"]

EVENTS_PREFIX = "/v1/key-events/"
router = APIRouter(route_class=AuthorizedRoute, tags=["key events"])
TenantId = Annotated[str, Path(pattern=TENANT_PATTERN, description="The tenant id")]
# Documents the scheme in OpenAPI; the receiver itself checks the secret (constant time).
_EVENT_KEY = APIKeyHeader(name=SECRET_HEADER, scheme_name="eventKey", auto_error=False)


def _vendor(request: Request) -> Vendor:
    vendor: Vendor = request.app.state.vendor
    return vendor


class KeyEventUrl(NamedTuple):
    """Where a tenant's EventBridge rules send its key events; ``note`` says when it is a guess."""

    url: str
    note: str | None


def key_event_url(request: Request, tenant: str) -> KeyEventUrl:
    """The tenant's key-event URL: ``BYOK_PUBLIC_URL`` + ``/v1/key-events/<tenant>``.

    Without that setting this server cannot know the address customers' AWS accounts reach
    it at, so it offers the origin this request came to (scheme and host as the caller
    used them; behind a proxy perhaps an internal name) and says so in ``note``.

    Returns:
        The :class:`KeyEventUrl`.
    """
    public = _vendor(request).settings.public_url
    if public is not None:
        return KeyEventUrl(f"{public}{EVENTS_PREFIX}{tenant}", None)
    origin = f"{request.url.scheme}://{request.url.netloc}"
    note = (
        "The vendor has not configured its public address (BYOK_PUBLIC_URL), so this URL "
        f"uses the address this request reached the server at ({origin}). If AWS cannot "
        "reach it over https://, ask the vendor for its public key-event URL."
    )
    return KeyEventUrl(f"{origin}{EVENTS_PREFIX}{tenant}", note)


def receiver(request: Request) -> KeyEventReceiver:
    """The app's one receiver (made on first use)."""
    state = request.app.state
    if getattr(state, "key_events", None) is None:
        state.key_events = KeyEventReceiver(_vendor(request))
    found: KeyEventReceiver = state.key_events
    return found


@router.post(
    "/v1/key-events/{tenant}", status_code=202,
    responses={202: {"description": "Accepted: the outcome of the re-probe"},
               **responses_for(401, 413, 422, 500)},
    summary="Receive a key or role event of the customer (EventBridge API destination)",
)  # fmt: skip
async def receive_key_event(
    request: Request, tenant: TenantId, secret: Annotated[str | None, Depends(_EVENT_KEY)]
) -> JSONResponse:
    """Authenticate the event, then re-probe the tenant's key at once (never trusts it)."""
    import anyio.to_thread

    body = await request.body()
    try:
        outcome = await anyio.to_thread.run_sync(receiver(request).receive, tenant, secret, body)
    except KeyEventRejected as exc:
        return problem_response(
            401, error="KeyEventRejected", detail="the key event was refused",
            title="key event refused", extra={"code": "event-rejected", "fix": exc.fix},
        )  # fmt: skip
    return JSONResponse(outcome.to_dict(), status_code=202)


@router.post(
    "/v1/tenants/{tenant}/key-events/secret", status_code=201, response_model=KeyEventSecretOut,
    responses=responses_for(401, 403, 404, 500),
    summary="Make (or replace) the tenant's key-event secret; shown once (tenant-admin)",
    dependencies=[Depends(requires(Action.CONFIG_WRITE))],
)  # fmt: skip
def new_event_secret(request: Request, tenant: TenantId) -> KeyEventSecretOut:
    """The secret goes into the customer's EventBridge connection (API key auth); ``url``
    is where the rules send events (``BYOK_PUBLIC_URL``, else this request's origin and a
    ``url_note`` saying so)."""
    vendor = _vendor(request)
    vendor.tenants.get(tenant)
    secret = vendor.policies.new_event_secret(tenant)
    vendor.audit.record("tenant:key-event-secret", tenant=tenant)
    url = key_event_url(request, tenant)
    return KeyEventSecretOut(
        tenant=tenant, secret=secret, header=SECRET_HEADER, path=f"{EVENTS_PREFIX}{tenant}",
        url=url.url, url_note=url.note,
    )  # fmt: skip


@router.get(
    "/v1/tenants/{tenant}/key-policy", responses=responses_for(401, 403, 404, 500),
    summary="The tenant's outage grace, push revocation and key-loss policy (tenant-admin)",
    dependencies=[Depends(requires(Action.CONFIG_READ))],
)  # fmt: skip
def get_key_policy(request: Request, tenant: TenantId) -> dict[str, Any]:
    """Never returns secrets (only whether push revocation is set up)."""
    vendor = _vendor(request)
    vendor.tenants.get(tenant)
    return vendor.policies.get(tenant).to_dict()


@router.put(
    "/v1/tenants/{tenant}/key-policy", responses=responses_for(401, 403, 404, 422, 500),
    summary="Set the tenant's outage grace and key-loss policy (tenant-admin)",
    dependencies=[Depends(requires(Action.CONFIG_WRITE))],
)  # fmt: skip
def put_key_policy(request: Request, tenant: TenantId, body: KeyPolicyIn) -> dict[str, Any]:
    """Each change is an audit event; the grace is at most the revocation bound."""
    vendor = _vendor(request)
    vendor.tenants.get(tenant)
    changes = body.model_dump(exclude_unset=True)
    policy = set_key_policy(vendor, tenant, **changes)
    return policy.to_dict()


@router.put(
    "/v1/tenants/{tenant}/scopes", responses=responses_for(401, 403, 404, 422, 500),
    summary="Set the tenant's scopes (name prefixes) and period unit (operator)",
    dependencies=[Depends(requires(Action.SCOPES_WRITE))],
)  # fmt: skip
def put_scopes(request: Request, tenant: TenantId, body: ScopesIn) -> dict[str, Any]:
    """New writes use them on every node within a second (docs/SECURITY.md#customer-levers);
    the tenant-admin reads them, and the uses its key policy refuses, at ``key-policy``."""
    rules = None if body.rules is None else [(r.prefix, r.scope) for r in body.rules]
    policy = configure_scopes(_vendor(request), tenant, rules=rules, period_unit=body.period_unit)
    return policy.to_dict()
