"""The demo's cluster scene: a revocation reaches two API nodes by push, with its delay.

Two ``byok serve`` processes (each its own key cache and signal listener) share the demo's
database, blobs and local AWS. globex's customer deploys the
forwarding rule (here: the local AWS's event delivery, with the tenant's key-event secret as
the API key) to node 1's receiver, disables the key with boto3, and both nodes refuse within
about a second, well before the cache bound; node 2 never received the event (the cluster
signal told it). Access then returns by itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx

from byok.demo.narration import DemoFailed, Narrator
from byok.localaws.testing import LocalAws
from byok.service.key_events import SECRET_HEADER
from byok.service.vendor import Vendor
from byok.store.tokens import mint_token

if TYPE_CHECKING:
    from byok.demo.story import Stage

__all__ = ["push_revocation"]

_DENY = {"disabled", "denied", "pending-deletion"}


def push_revocation(say: Narrator, stage: Stage, tenant: str, account: str) -> None:
    """Run the scene on ``tenant`` (ACTIVE, with document ``reports/annual.pdf``): two
    ``byok serve`` processes over the demo's database, blobs and local AWS."""
    settings = stage.vendor.settings
    env = {
        **os.environ, "BYOK_HOME": str(stage.home),
        "BYOK_DATABASE_URL": str(stage.vendor.store.engine.url),
        "BYOK_AWS_ENDPOINT_URL": stage.endpoint_url,
        "BYOK_VENDOR_ACCOUNT": settings.vendor_account,
        "BYOK_REVOCATION_BOUND_SECONDS": str(settings.revocation_bound_s),
    }  # fmt: skip
    ports = [_free_port() for _ in range(2)]
    nodes = [_start_node(env, port) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            _wait(lambda u=url: _healthy(u), f"{url} is ready")
        _scene(say, stage, tenant, account, urls)
    finally:
        for process in nodes:
            process.terminate()
            process.wait(15)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_node(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from byok.cli.main import main; main()", "serve",
               "--port", str(port), "--json", "--no-monitor"]  # fmt: skip
    return subprocess.Popen(  # noqa: S603 - this interpreter running byok itself
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _scene(say: Narrator, stage: Stage, tenant: str, account: str, urls: list[str]) -> None:
    base, aws = stage.vendor, LocalAws(stage.endpoint_url)
    reader = mint_token(base.store, "reader", tenant=tenant, label="demo cluster").token
    path, key_arn = f"/v1/tenants/{tenant}/documents/reports/annual.pdf", _key_arn(base, tenant)
    with say.step(f"two `byok serve` nodes share the database; both serve {tenant}", "vendor"):
        for url in urls:
            say.expect(_status(url, path, reader)[0] == 200, f"{url} serves (key cached)")
    with say.step("`byok customer forwarding-rule`: key events to node 1", "customer"):
        target = aws.add_event_target(
            f"{urls[0]}/v1/key-events/{tenant}", account=account,
            headers={SECRET_HEADER: base.policies.new_event_secret(tenant)},
        )  # fmt: skip
        say.say("EventBridge API destination; API key = the tenant's key-event secret")
    try:
        with say.step("disable the key (boto3)", "customer"):
            started = time.monotonic()
            aws.client("kms", account).disable_key(KeyId=key_arn)
        with say.step("both nodes refuse, by push (node 2 never got the event)", "vendor"):
            delays = [_refused_after(url, path, reader, started) for url in urls]
            for url, delay in zip(urls, delays, strict=True):
                say.ok(f"{url} refuses {delay:.2f}s after the change")
            for delivery in aws.event_deliveries():
                if delivery["target"] == target and delivery["event_name"] == "DisableKey":
                    status, attempts = delivery["status"], delivery["attempts"]
                    say.say(f"event DisableKey delivered to node 1: HTTP {status}, "
                            f"{attempts} attempt(s)")  # fmt: skip
            say.expect(max(delays) < base.settings.revocation_bound_s,
                       "both before the cache bound: the push, not the TTL")  # fmt: skip
        with say.step("enable the key again: both nodes serve again", "customer"):
            aws.client("kms", account).enable_key(KeyId=key_arn)
            for url in urls:
                _wait(lambda u=url: _status(u, path, reader)[0] == 200, f"{url} serves")
    finally:
        aws.remove_event_target(target)


def _key_arn(vendor: Vendor, tenant: str) -> str:
    stored = vendor.tenants.active_config(tenant)
    if stored is None:
        raise DemoFailed(f"{tenant} has no active configuration")
    return stored.config.key_arn


def _status(url: str, path: str, token: str) -> tuple[int, str]:
    answer = httpx.get(url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    code = answer.json().get("code", "") if answer.status_code >= 400 else ""
    return answer.status_code, str(code)


def _refused_after(url: str, path: str, token: str, started: float) -> float:
    while time.monotonic() - started < 20:
        status, code = _status(url, path, token)
        if status == 503 and code in _DENY:
            return time.monotonic() - started
        time.sleep(0.02)
    raise DemoFailed(f"{url} never refused after the revocation")


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise DemoFailed(f"never: {what}")
