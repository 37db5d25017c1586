"""``byok serve --workers 2``: two processes answer on one socket that sets TCP_NODELAY,
and a token revoked through one process is refused by every process at once (the cluster
signal keeps the per-process token caches correct, issue 18)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from byok.store.database import Store
from byok.store.tokens import TokenRepository

BYOK = str(Path(sys.executable).with_name("byok"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BYOK_"))}
    env |= {"BYOK_HOME": str(tmp_path)}
    command = [BYOK, "serve", "--port", str(port), "--workers", "2", "--no-monitor", "--json"]
    child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("byok serve --workers 2 did not start")
        yield url, tmp_path
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def test_two_workers_share_the_socket_and_honour_a_revocation_at_once(
    workers: tuple[str, Path],
) -> None:
    url, home = workers
    store = Store.open(f"sqlite:///{home / 'byok.db'}")
    try:
        minted = TokenRepository(store).mint("operator", label="workers-test")
        headers = {"Authorization": f"Bearer {minted.token}"}
        for _ in range(40):  # new connections: the kernel spreads them over both workers
            with httpx.Client(base_url=url, headers=headers, timeout=10) as fresh:
                answer = fresh.get("/v1/tenants")
                assert answer.status_code == 200, answer.text
        TokenRepository(store).revoke(minted.grant.token_id)
        # Each worker cached the grant for its TTL (seconds); the signal must drop it at
        # once (SQLite poll: 0.1 s). 1.5 s later every connection to any worker is refused.
        time.sleep(1.5)
        for _ in range(20):
            with httpx.Client(base_url=url, headers=headers, timeout=10) as fresh:
                assert fresh.get("/v1/tenants").status_code == 401
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        store.close()
