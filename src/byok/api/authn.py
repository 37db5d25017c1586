"""Authentication: exactly one bearer token per request, resolved before anything else.

:class:`AuthenticationMiddleware` runs in front of routing, body reading and validation:

* a request with **two or more** ``Authorization`` headers is refused with 400
  ``DuplicateCredential`` (one credential per request: a proxy or a client library that
  keeps the first header and a server that keeps the last must never disagree on who
  acts);
* a request without a valid token gets 401, whatever its path, method or body (an
  unauthenticated caller learns nothing, not even whether its input or path was valid);
* the authenticated :class:`~byok.store.tokens.TokenGrant` is put on the request state
  (``request.state.grant``) and every audit event of the request names
  ``token:<token id>`` **of that grant** (never a value read from a header).

Only the probes and the API description (:data:`PUBLIC_PATHS`) are served without a token;
the web console under ``/console`` authenticates its own sessions (docs/CONSOLE.md).

:class:`Authenticator` resolves tokens from memory: a valid grant stays cached until the
cluster signal (``byok.store.signals``) says its token was revoked or its tenant
offboarded, in any process. While this process's signal listener is not running, cached
grants are trusted for ``fallback_ttl_s`` only. A look-up that misses the cache reads the
database on a small dedicated thread limiter, so a flood of unknown tokens cannot take the
threads tenant requests run on.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from byok.api.limits import LoopLimiter
from byok.api.problems import byok_problem, problem_response
from byok.errors import ByokError
from byok.service.audit import acting_as
from byok.store.signals import Signal, SignalBus, SignalKind
from byok.store.tokens import TokenGrant, TokenRepository, token_id_of

__all__ = ["PUBLIC_PATHS", "AuthenticationMiddleware", "Authenticator", "Unauthenticated"]

#: Paths served without a token: liveness, readiness, the API description.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                          "/redoc"})  # fmt: skip
#: Sub-applications that authenticate by themselves (the web console's session cookies).
SELF_AUTHENTICATED = ("/console/", "/console")
#: The key-event receiver authenticates each event by the tenant's key-event secret.
EVENT_RECEIVER = "/v1/key-events/"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="byok"'}


class Unauthenticated(Exception):
    """No valid token (401); the message says which rule failed, never whose token."""


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    grant: TokenGrant
    read_at: float


class Authenticator:
    """Resolves bearer tokens to grants, from memory when it can.

    Args:
        tokens: the token repository.
        fallback_ttl_s: seconds a cached grant is trusted while no signal listener runs.
        max_entries: most grants kept (least recently used go first).
        lookups: most concurrent database look-ups (cache misses).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        tokens: TokenRepository,
        *,
        fallback_ttl_s: float = 1.0,
        max_entries: int = 10_000,
        lookups: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = tokens
        self._fallback_ttl = fallback_ttl_s
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, _Entry] = OrderedDict()  # by token id
        self._epoch = 0  # bumped by every invalidation: a look-up racing one is not cached
        self._lookups = LoopLimiter(lookups)
        self._bus: SignalBus | None = None

    def listen(self, bus: SignalBus) -> None:
        """Invalidate cached grants on ``bus``'s signals and start its listener (idempotent).

        Raises:
            StorageError: the signal table cannot be read.
        """
        bus.subscribe(self._on_signal, kinds={SignalKind.TOKEN_REVOKED,
                                              SignalKind.TENANT_OFFBOARDED})  # fmt: skip
        bus.start()
        self._bus = bus

    async def authenticate(self, authorization: str | None) -> TokenGrant:
        """Return the grant of an ``Authorization: Bearer <token>`` header value.

        Raises:
            Unauthenticated: the header is missing, not ``Bearer``, or the token is unknown,
                malformed or revoked.
            StorageError: the token table cannot be read.
        """
        token = _bearer_token(authorization)
        token_id = token_id_of(token)
        if token_id is None:
            raise Unauthenticated("the token is not valid (unknown, malformed or revoked)")
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        grant = self._cached(token_id, digest)
        if grant is None:
            epoch = self._epoch
            grant = await anyio.to_thread.run_sync(self.tokens.authenticate, token,
                                                   limiter=self._lookups.get())  # fmt: skip
            if grant is None:
                raise Unauthenticated("the token is not valid (unknown, malformed or revoked)")
            self._remember(token_id, digest, grant, epoch)
        return grant

    def forget(self, token_id: str | None = None, *, tenant: str | None = None) -> None:
        """Drop one token's cached grant, a tenant's, or (no argument) every one."""
        with self._lock:
            self._epoch += 1
            if token_id is None and tenant is None:
                self._cache.clear()
                return
            doomed = [
                key
                for key, entry in self._cache.items()
                if key == token_id or (tenant is not None and entry.grant.tenant == tenant)
            ]
            for key in doomed:
                del self._cache[key]

    def _on_signal(self, signal: Signal) -> None:
        if signal.kind == SignalKind.TOKEN_REVOKED:
            self.forget(signal.subject or None, tenant=None if signal.subject else signal.tenant)
        elif signal.tenant:
            self.forget(tenant=signal.tenant)

    def _cached(self, token_id: str, digest: bytes) -> TokenGrant | None:
        with self._lock:
            entry = self._cache.get(token_id)
            if entry is None or not hmac.compare_digest(entry.digest, digest):
                return None
            listening = self._bus is not None and self._bus.running
            if not listening and self._clock() - entry.read_at > self._fallback_ttl:
                del self._cache[token_id]  # nobody tells us about revocations: read again
                return None
            self._cache.move_to_end(token_id)
            return entry.grant

    def _remember(self, token_id: str, digest: bytes, grant: TokenGrant, epoch: int) -> None:
        with self._lock:
            if epoch != self._epoch:
                return  # invalidated while we read: the row we read may already be stale
            self._cache[token_id] = _Entry(digest, grant, self._clock())
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("a bearer token is required")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("use the Authorization: Bearer <token> scheme")
    return token


def _self_authenticated(path: str) -> bool:
    return (
        path == SELF_AUTHENTICATED[1]
        or path.startswith(SELF_AUTHENTICATED[0])
        or path.startswith(EVENT_RECEIVER)
    )


class AuthenticationMiddleware:
    """Authenticate every request but :data:`PUBLIC_PATHS` before the app sees it.

    Args:
        app: the wrapped application.
        authenticator: resolves tokens.
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PUBLIC_PATHS or _self_authenticated(path):
            await self.app(scope, receive, send)
            return
        values = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(values) > 1:
            response = problem_response(
                400, error="DuplicateCredential",
                detail=f"the request has {len(values)} Authorization headers; one is allowed",
                extra={"fix": "Send exactly one Authorization: Bearer <token> header."},
                headers={"Connection": "close"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        try:
            header = values[0].decode("latin-1") if values else None
            grant = await self.authenticator.authenticate(header)
        except Unauthenticated as exc:
            await problem_response(401, error="HTTPError", detail=str(exc),
                                   headers=_CHALLENGE)(scope, receive, send)  # fmt: skip
            return
        except ByokError as exc:
            await byok_problem(exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["grant"] = grant
        with acting_as(f"token:{grant.token_id}"):
            await self.app(scope, receive, send)
