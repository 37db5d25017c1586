"""What one client may hold: body size and read timeouts, concurrent uploads, thread pools.

The server's own guards (request-head timeout, keep-alive, connection cap) are in
:mod:`byok.api.server`; these are the application's, and docs/OPERATIONS.md#serving says
why each value is what it is.

* :class:`RequestGuardMiddleware`: a body larger than the limit is 413 (at once when
  ``Content-Length`` says so); a body that stops arriving for ``body_read_timeout_s`` is
  408 and the connection is closed. The timeout is per read, so a large upload at any
  honest speed is fine and a client that sends three bytes and waits is not.
* :class:`UploadGate`: at most ``uploads_per_token`` uploads at once per token and
  ``uploads_per_tenant`` per tenant (and ``uploads_total`` in the process); past that,
  429 with ``Retry-After``, decided before the body is read.
* :class:`LoopLimiter`: a thread limiter of its own (per event loop) for work that must
  never wait for, nor take, the threads the other routes run on (uploads, readiness, token
  look-ups).
"""

from __future__ import annotations

import re
import threading
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byok.api.problems import BodyTooLarge, problem_response

__all__ = [
    "BodyReadTimeout",
    "LoopLimiter",
    "RequestGuardMiddleware",
    "ServingLimits",
    "TooManyUploads",
    "UploadGate",
    "UploadGateMiddleware",
    "install_limit_handlers",
    "prefetch",
    "too_many_uploads",
]


@dataclass(frozen=True)
class ServingLimits:
    """The application's limits (docs/OPERATIONS.md#serving).

    Attributes:
        max_body_bytes: largest document upload (bigger: 413).
        max_json_bytes: largest body of any other request (bigger: 413).
        body_read_timeout_s: longest wait for the next part of a request body (408 after).
        uploads_per_token: concurrent uploads of one token (429 past it).
        uploads_per_tenant: concurrent uploads of one tenant (429 past it).
        uploads_total: concurrent uploads of the process (429 past it); also the size of
            the upload thread limiter, so an admitted upload never waits for a thread.
        upload_prefetch_bytes: body bytes read (asynchronously, holding no thread) before an
            upload's encrypt-and-store work is given a thread; a smaller body is read whole.
        retry_after_s: the ``Retry-After`` of a 429.
    """

    max_body_bytes: int = 1024**3
    max_json_bytes: int = 64 * 1024
    body_read_timeout_s: float = 15.0
    uploads_per_token: int = 8
    uploads_per_tenant: int = 32
    uploads_total: int = 128
    upload_prefetch_bytes: int = 256 * 1024
    retry_after_s: int = 1


class BodyReadTimeout(Exception):
    """The next part of the request body did not arrive in time (408)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no request body data arrived for {seconds:g} s")
        self.seconds = seconds


class TooManyUploads(Exception):
    """An upload past a concurrency bound (429 with ``Retry-After``)."""

    def __init__(self, scope: str, limit: int, retry_after_s: int) -> None:
        super().__init__(f"this {scope} already has {limit} uploads in progress")
        self.scope = scope
        self.limit = limit
        self.retry_after_s = retry_after_s


class UploadGate:
    """Counts uploads in progress by token, by tenant and in all (thread-safe).

    Args:
        limits: the bounds.
    """

    def __init__(self, limits: ServingLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._tokens: Counter[str] = Counter()
        self._tenants: Counter[str] = Counter()
        self._total = 0
        self.refused = 0

    @contextmanager
    def admit(self, token_id: str, tenant: str) -> Iterator[None]:
        """Hold one upload slot of ``token_id`` and ``tenant`` for the block.

        Raises:
            TooManyUploads: a bound is reached (nothing was held).
        """
        limits = self.limits
        with self._lock:
            for scope, held, limit in (
                ("token", self._tokens[token_id], limits.uploads_per_token),
                ("tenant", self._tenants[tenant], limits.uploads_per_tenant),
                ("server", self._total, limits.uploads_total),
            ):
                if held >= limit:
                    self.refused += 1
                    raise TooManyUploads(scope, limit, limits.retry_after_s)
            self._tokens[token_id] += 1
            self._tenants[tenant] += 1
            self._total += 1
        try:
            yield
        finally:
            with self._lock:
                self._tokens[token_id] -= 1
                self._tenants[tenant] -= 1
                self._total -= 1
                if self._tokens[token_id] <= 0:
                    del self._tokens[token_id]
                if self._tenants[tenant] <= 0:
                    del self._tenants[tenant]

    @property
    def in_progress(self) -> int:
        """Uploads admitted and not finished."""
        return self._total


class LoopLimiter:
    """A capacity limiter of ``total`` threads per running event loop.

    (anyio limiters belong to one event loop; tests run apps on several.)
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._limiters: weakref.WeakKeyDictionary[AbstractEventLoop, anyio.CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self) -> anyio.CapacityLimiter:
        """The limiter of the running loop (made on first use)."""
        loop = get_running_loop()
        with self._lock:
            limiter = self._limiters.get(loop)
            if limiter is None:
                limiter = self._limiters[loop] = anyio.CapacityLimiter(self.total)
            return limiter


async def prefetch(chunks: AsyncIterator[bytes], most: int) -> AsyncIterator[bytes]:
    """Read up to ``most`` bytes of ``chunks`` now; return an iterator over the whole body.

    The upload route awaits this before it gives the upload a thread: a body of up to
    ``most`` bytes (most documents) is then complete in memory and the thread never waits
    on the socket; a client that sends a few bytes and stalls holds no thread at all.

    Returns:
        An async iterator yielding the prefetched chunks, then the rest of ``chunks``.
    """
    held: list[bytes] = []
    size, ended = 0, False
    while size < most:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            ended = True
            break
        held.append(chunk)
        size += len(chunk)

    async def replay() -> AsyncIterator[bytes]:
        for chunk in held:
            yield chunk
        held.clear()
        if not ended:
            async for chunk in chunks:
                yield chunk

    return replay()


class RequestGuardMiddleware:
    """Body size limits (413) and the per-read body timeout (408) of every request.

    Args:
        app: the wrapped application.
        limits: ``max_body_bytes`` for document uploads (``PUT .../documents/...``),
            ``max_json_bytes`` for everything else, ``body_read_timeout_s``.
    """

    def __init__(self, app: ASGIApp, *, limits: ServingLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "PUT" and "/documents/" in scope["path"]
        limit = self.limits.max_body_bytes if upload else self.limits.max_json_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = problem_response(
                413, error="BodyTooLarge", detail=str(BodyTooLarge(limit)),
                extra={"fix": f"Send at most {limit} bytes in one request."},
                headers={"Connection": "close"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        await self.app(scope, _guarded(receive, limit, self.limits.body_read_timeout_s), send)


def _guarded(receive: Receive, limit: int, timeout_s: float) -> Receive:
    """``receive`` with the size limit and, until the body is complete, the read timeout."""
    received = 0
    body_done = False

    async def guarded_receive() -> Message:
        nonlocal received, body_done
        if body_done:  # only a disconnect can come now: wait as long as it takes
            return await receive()
        try:
            with anyio.fail_after(timeout_s):
                message = await receive()
        except TimeoutError:
            raise BodyReadTimeout(timeout_s) from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            body_done = not message.get("more_body", False)
            if received > limit:
                raise BodyTooLarge(limit)
        else:
            body_done = True
        return message

    return guarded_receive


_UPLOAD_PATH = re.compile(r"^/v1/tenants/([^/]+)/documents/.")


class UploadGateMiddleware:
    """Hold an :class:`UploadGate` slot around every document upload (429 past a bound).

    It runs after authentication and before routing: a refused upload costs no routing,
    no dependency resolution and no body read, which matters when one client opens
    hundreds of them. The slot is counted for the authenticated token and its tenant (an
    operator's for the path's tenant), whatever the path says.

    Args:
        app: the wrapped application.
        gate: the bounds and counters.
    """

    def __init__(self, app: ASGIApp, gate: UploadGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _UPLOAD_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        grant = scope.get("state", {}).get("grant")
        if match is None or scope["method"] != "PUT" or grant is None:
            await self.app(scope, receive, send)
            return
        try:
            slot = self.gate.admit(grant.token_id, grant.tenant or match.group(1))
            slot.__enter__()
        except TooManyUploads as exc:
            await too_many_uploads(exc)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            slot.__exit__(None, None, None)


def too_many_uploads(exc: TooManyUploads) -> Response:
    """The 429 answer (it closes the connection: the body is never read).

    Returns:
        A problem response with ``Retry-After``.
    """
    return problem_response(
        429, error="TooManyUploads", detail=str(exc), title="too many requests",
        extra={"fix": f"Wait for an upload to finish (at most {exc.limit} per {exc.scope}) "
                      "and retry after Retry-After seconds."},
        headers={"Retry-After": str(exc.retry_after_s), "Connection": "close"},
    )  # fmt: skip


def install_limit_handlers(app: FastAPI) -> None:
    """Answer :class:`BodyReadTimeout` with 408 and :class:`TooManyUploads` with 429 (both
    close the connection: the rest of the body is never read)."""

    async def on_timeout(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyReadTimeout)
        return problem_response(
            408, error="BodyReadTimeout", detail=str(exc), title="request timeout",
            extra={"fix": "Send the body without pausing; resume a large upload from the start."},
            headers={"Connection": "close"},
        )  # fmt: skip

    async def on_busy(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, TooManyUploads)
        return too_many_uploads(exc)

    app.add_exception_handler(BodyReadTimeout, on_timeout)
    app.add_exception_handler(TooManyUploads, on_busy)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
