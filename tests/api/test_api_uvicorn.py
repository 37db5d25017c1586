"""The API served by a real uvicorn on 127.0.0.1 (random port), on SQLite and PostgreSQL:
chunked streaming upload, streamed download, cross-tenant refusal, and a download whose
last frame fails arriving as a broken stream, never as a complete body."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from api_world import ApiWorld

from byok.api.server import tcp_listener

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def served(api_any_db: ApiWorld) -> Iterator[tuple[ApiWorld, str]]:
    sock = tcp_listener()
    port = sock.getsockname()[1]
    # log_config=None: uvicorn's own loggers propagate, so tests can see what it logs.
    config = uvicorn.Config(
        api_any_db.client.app, log_level="warning", log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield api_any_db, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _body(total: int) -> Iterator[bytes]:
    for start in range(0, total, 65_536):
        yield bytes([start % 251]) * min(65_536, total - start)


def test_streaming_round_trip_over_a_real_server(served: tuple[ApiWorld, str]) -> None:
    world, url = served
    size = 5 * 1024 * 1024 + 3
    expected = hashlib.sha256(b"".join(_body(size))).hexdigest()
    with httpx.Client(base_url=url, timeout=30) as client:
        put = client.put("/v1/tenants/acme/documents/uv/large.bin", content=_body(size),
                         headers=world.as_role("acme", "writer"))  # fmt: skip
        assert put.status_code == 200, put.text
        digest = hashlib.sha256()
        with client.stream("GET", "/v1/tenants/acme/documents/uv/large.bin",
                           headers=world.as_role("acme", "reader")) as got:  # fmt: skip
            assert got.status_code == 200  # above verify_before_send_bytes: streamed
            assert got.headers["x-byok-integrity"] == "streamed"
            assert got.headers["content-length"] == str(size)  # what a complete body is
            for chunk in got.iter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == expected
        other = client.get("/v1/tenants/globex/documents/uv/large.bin",
                           headers=world.as_role("acme", "tenant-admin"))  # fmt: skip
        assert other.status_code == 404
        assert client.get("/readyz").json()["status"] == "ok"


def test_failed_last_frame_breaks_the_stream(
    served: tuple[ApiWorld, str], caplog: pytest.LogCaptureFixture
) -> None:
    world, url = served
    writer = world.as_role("acme", "writer")
    body = os.urandom(2 * 1024 * 1024 + 10)
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.put("/v1/tenants/acme/documents/uv/tail", content=body,
                          headers=writer).status_code == 200  # fmt: skip
        blob_key = world.vendor.documents._live("acme", "uv/tail").blob_key
        path = world.vendor.documents.blobs._path(blob_key)  # type: ignore[attr-defined]
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x80
        path.write_bytes(bytes(data))
        received = bytearray()
        caplog.clear()
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("GET", "/v1/tenants/acme/documents/uv/tail", headers=writer) as got,
        ):
            assert got.status_code == 200  # it started: the first frames verified
            for chunk in got.iter_bytes():
                received += chunk
        assert len(received) < len(body)
    time.sleep(0.2)  # the server thread logs after the connection closed
    # Logged once, as a warning naming tenant and document; no traceback, nothing from uvicorn.
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in logged] == ["byok.api.downloads"], [r.getMessage() for r in logged]
    assert logged[0].exc_info is None and "tenant=acme" in logged[0].getMessage()
    assert "uv/tail" in logged[0].getMessage()
    assert "Exception in ASGI application" not in caplog.text
