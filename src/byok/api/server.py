"""Run the API with uvicorn on embedded defaults (what ``byok serve`` calls).

Settings come from the environment (:class:`byok.settings.Settings`); with nothing
configured that is an SQLite file and a blob folder under ``.byok/``. The key monitor runs
in the server (one process sweeps at a time: it holds the ``key-monitor`` lease).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from byok.api.app import DEFAULT_MAX_BODY_BYTES, create_app
from byok.service.monitor import KeyMonitor
from byok.service.runtime import open_vendor
from byok.settings import Settings

__all__ = ["BackgroundServer", "serve", "tcp_listener"]


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    settings: Settings | None = None,
    monitor: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    log_level: str = "info",
) -> None:
    """Serve the API until interrupted (SIGINT/SIGTERM stop it gracefully).

    Args:
        host: address to bind (loopback by default; put TLS termination in front).
        port: TCP port.
        settings: vendor settings (default: from the environment).
        monitor: run the key monitor in this process.
        max_body_bytes: largest document upload.
        log_level: uvicorn's log level (access logs never contain tokens: they are headers).

    Raises:
        InvalidInput: a malformed setting (named).
        StorageError: the database cannot be opened or migrated.
    """
    vendor = open_vendor(settings, actor="api")
    app = create_app(
        vendor,
        monitor=KeyMonitor(vendor) if monitor else None,
        max_body_bytes=max_body_bytes,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
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
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1") -> None:
        self._socket = tcp_listener(host)
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="critical", lifespan="off")
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
