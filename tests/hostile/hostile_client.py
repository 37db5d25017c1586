"""Raw-socket helpers for the hostile-client suite: what a hostile client sends, byte by
byte, and the honest client whose service must not suffer for it."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from api.api_world import ApiWorld
from byok.api.limits import ServingLimits
from byok.api.server import ServerLimits

#: The suite's limits: short timeouts and small bounds, so it stays fast.
LIMITS = ServingLimits(
    max_body_bytes=4 << 20, body_read_timeout_s=1.0, uploads_per_token=2, uploads_per_tenant=3
)
SERVER = ServerLimits(head_timeout_s=1.0, max_connections=400)


@dataclass
class Served:
    """The world and where it is served."""

    world: ApiWorld
    host: str
    port: int
    database_url: str
    blob_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        return sock

    def auth(self, tenant: str, role: str) -> dict[str, str]:
        return self.world.as_role(tenant, role)


def read_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (or ``timeout``)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def one_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """One complete response with a ``content-length`` body (the connection stays open)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                  if line.startswith(b"content-length:"))  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response (0 if none)."""
    if not response.startswith(b"HTTP/1.1 "):
        return 0
    return int(response[9:12])


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``seconds``; and what it sent first."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return False, data
    except ConnectionResetError:
        return True, data
    return True, data


def timed_get(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> float:
    """Seconds one GET took; asserts it succeeded."""
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return time.perf_counter() - started
