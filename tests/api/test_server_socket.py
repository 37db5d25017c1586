"""The test/demo server's socket must not add the delayed-ACK wait to every response.

uvicorn writes a response in more than one send; when the accepted connection lacks
``TCP_NODELAY`` (asyncio sets it only if the listening socket says ``IPPROTO_TCP``), each
keep-alive response waits for the client's delayed ACK, ~40 ms on Linux, so every
benchmark through it measured the timer (issue 18). A median well under 40 ms over a
keep-alive connection proves the wait is gone; the margin stays wide for a loaded machine.
"""

from __future__ import annotations

import http.client
import socket
import statistics
import time
from urllib.parse import urlsplit

from fastapi import FastAPI, Response

from byok.api.server import BackgroundServer, tcp_listener

_BODY = b"x" * 4096


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/doc")
    async def doc() -> Response:
        return Response(_BODY, media_type="application/octet-stream")

    return app


def test_listener_names_tcp_so_asyncio_sets_nodelay_on_accepted_connections() -> None:
    sock = tcp_listener()
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()


def test_keep_alive_requests_do_not_wait_for_delayed_acks() -> None:
    with BackgroundServer(_app()) as server:
        address = urlsplit(server.url)
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
        try:
            latencies = []
            for _ in range(40):
                started = time.perf_counter()
                connection.request("GET", "/doc")
                response = connection.getresponse()
                assert response.read() == _BODY
                latencies.append(time.perf_counter() - started)
        finally:
            connection.close()
    # With the bug every request takes >= 40 ms; without it ~1 ms (10x margin for load).
    assert statistics.median(latencies) < 0.020, latencies
