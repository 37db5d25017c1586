"""Serve the API with uvicorn, guarded against slow and idle clients (``byok serve``).

uvicorn (h11) has no timeout on receiving a request head: ``timeout_keep_alive`` only
covers the idle time *between* requests and is cancelled by the first byte received, so a
client that sends half a request line, or connects and sends nothing, holds its connection
for as long as it likes. :class:`GuardedH11Protocol` adds what is missing
(docs/OPERATIONS.md#serving):

* a **head deadline**: the request line and headers must arrive within
  ``head_timeout_s`` of the connection opening (or of the first byte of a later request on
  a kept-alive connection); otherwise ``408`` (if anything arrived) and the connection is
  closed;
* a **connection cap**: past ``max_connections`` the oldest connection waiting for a
  request head is closed to make room; if every connection is busy with a request, the
  new one is closed instead. In-flight requests are never cut, and nothing ever answers
  503 to everyone (uvicorn's own ``limit_concurrency`` would).

Body timeouts and upload bounds are the application's (:mod:`byok.api.limits`).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar, TypeGuard

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from byok.api.app import create_app
from byok.api.limits import ServingLimits
from byok.service.monitor import KeyMonitor
from byok.service.runtime import open_vendor
from byok.settings import Settings

__all__ = [
    "BackgroundServer",
    "GuardedH11Protocol",
    "ServerLimits",
    "serve",
    "server_config",
    "tcp_listener",
]

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 40\r\n\r\nthe request head did not arrive in time\n"
)


@dataclass(frozen=True)
class ServerLimits:
    """The server's connection guards (docs/OPERATIONS.md#serving).

    Attributes:
        head_timeout_s: longest time to receive a request line and headers.
        keep_alive_s: an idle kept-alive connection is closed after this (uvicorn).
        max_connections: open connections at most (idle ones are shed first).
        max_head_bytes: largest request head (h11; bigger: 400).
        backlog: the listening socket's accept queue.
    """

    head_timeout_s: float = 10.0
    keep_alive_s: int = 5
    max_connections: int = 2048
    max_head_bytes: int = 16 * 1024
    backlog: int = 2048


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a connection cap."""

    head_timeout_s: ClassVar[float] = ServerLimits.head_timeout_s
    max_connections: ClassVar[int] = ServerLimits.max_connections
    _head_timer: asyncio.TimerHandle | None = None
    _opened: float = 0.0

    @classmethod
    def with_limits(cls, limits: ServerLimits) -> type[GuardedH11Protocol]:
        """A subclass bound to ``limits`` (what :func:`server_config` passes to uvicorn).

        Returns:
            The protocol class.
        """
        bound = {"head_timeout_s": limits.head_timeout_s, "max_connections": limits.max_connections}
        if all(getattr(cls, name) == value for name, value in bound.items()):
            return cls  # importable by name: worker processes (spawned) can unpickle it
        return type("GuardedH11Protocol", (cls,), bound)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Register the connection, shed one if over the cap, start the head deadline."""
        super().connection_made(transport)
        self._opened = time.monotonic()
        if len(self.connections) > self.max_connections:
            idle = [c for c in self.connections if _waiting_for_head(c)]
            victim = min(idle, key=lambda c: c._opened, default=self)
            victim.transport.close()
            if victim is self:
                return
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does; keep the deadline only while a head is incomplete."""
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._head_timer is None:
                self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the deadline and let uvicorn clean up."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:  # part of a head arrived: say why we hang up
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def _waiting_for_head(connection: object) -> TypeGuard[GuardedH11Protocol]:
    return (
        isinstance(connection, GuardedH11Protocol)
        and connection.conn.their_state is h11.IDLE
        and (connection.cycle is None or connection.cycle.response_complete)
        and not connection.transport.is_closing()
    )


def server_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    limits: ServerLimits | None = None,
    log_level: str = "info",
    lifespan: str = "auto",
    **extra: Any,
) -> uvicorn.Config:
    """The uvicorn configuration ``byok serve`` runs with (and the tests and benchmarks).

    ``extra`` goes to :class:`uvicorn.Config` as it is (e.g. ``workers``, ``factory``).

    Returns:
        A :class:`uvicorn.Config` using :class:`GuardedH11Protocol`.
    """
    limits = limits or ServerLimits()
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan=lifespan,  # type: ignore[arg-type]
        http=GuardedH11Protocol.with_limits(limits), timeout_keep_alive=limits.keep_alive_s,
        h11_max_incomplete_event_size=limits.max_head_bytes, backlog=limits.backlog, **extra,
    )  # fmt: skip


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    settings: Settings | None = None,
    monitor: bool = True,
    max_body_bytes: int = ServingLimits.max_body_bytes,
    log_level: str = "info",
    workers: int = 1,
) -> None:
    """Serve the API until interrupted (SIGINT/SIGTERM stop it gracefully).

    Args:
        host: address to bind (loopback by default; put TLS termination in front).
        port: TCP port.
        settings: vendor settings (default: from the environment).
        monitor: run the key monitor in this process.
        max_body_bytes: largest document upload.
        log_level: uvicorn's log level (access logs never contain tokens: they are headers).
        workers: processes (more than 1: :mod:`byok.api.workers`; settings then come from
            the environment).

    Raises:
        InvalidInput: a malformed setting (named).
        StorageError: the database cannot be opened or migrated.
    """
    if workers > 1:
        from byok.api.workers import serve_workers

        open_vendor(settings, actor="api").store.close()  # migrate once, before the workers
        serve_workers(host, port, workers, monitor=monitor, max_body_bytes=max_body_bytes,
                      log_level=log_level)  # fmt: skip
        return
    vendor = open_vendor(settings, actor="api")
    app = create_app(
        vendor,
        monitor=KeyMonitor(vendor) if monitor else None,
        max_body_bytes=max_body_bytes,
    )
    try:
        uvicorn.Server(server_config(app, host=host, port=port, log_level=log_level)).run()
    finally:
        vendor.store.close()


def tcp_listener(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A bound TCP socket to hand uvicorn (``Server.run(sockets=[...])``).

    It is created with ``IPPROTO_TCP`` named explicitly: asyncio sets ``TCP_NODELAY`` on an
    accepted connection only when the listening socket's ``proto`` says TCP, and a socket
    made with protocol 0 says 0. Without it every keep-alive response that uvicorn writes in
    two sends waits for the client's delayed ACK (~40 ms on Linux), which caps a connection
    at ~25 requests/s whatever the server does (issue 18). ``TCP_NODELAY`` is also set on the
    listener itself (Linux copies it to accepted connections), belt and braces.

    Returns:
        The bound (not yet listening) socket; the caller closes it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class BackgroundServer:
    """The API served by uvicorn in a daemon thread on 127.0.0.1 and a free port (demo, tests).

    Use as a context manager; :attr:`url` is ``http://127.0.0.1:<port>``.

    Args:
        app: the ASGI application.
        host: the address to bind.
        limits: the server's connection guards.
    """

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", limits: ServerLimits | None = None
    ) -> None:
        self._socket = tcp_listener(host)
        self.host, self.port = host, int(self._socket.getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        config = server_config(app, host=host, limits=limits, log_level="critical", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
