"""The tenant <-> key binding attacks over the API, as a tenant-admin token would make them.

* acme's tenant-admin hands over globex's key: verification fails ``not_bound_elsewhere``,
  activation is refused, and no answer names globex;
* a stolen tenant-admin token re-roots acme to a key in an account the thief controls: the
  configuration verifies (the thief's key is set up right), but activation is 403
  ``ApprovalRequired`` with the fix until an operator approves;
* every step reaches the tenant's webhook, signed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from api_world import ApiWorld, make_world

from byok.service.notify import SIGNATURE_HEADER, verify
from support.world import new_customer

pytestmark = pytest.mark.localaws


@pytest.fixture(scope="module")
def world(local_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """A world of its own: these tests change acme's configuration."""
    folder = tmp_path_factory.mktemp("api-binding")
    built = make_world(local_aws, f"sqlite:///{folder / 'byok.db'}", Path(folder / "blobs"))
    with built.client:
        yield built
    built.vendor.store.close()


class _Receiver:
    """A loopback webhook endpoint that records each delivery's headers and body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/byok"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str) -> list[str]:
        """The event names, each signature checked against ``secret``."""
        names = []
        for headers, body in self.received:
            assert verify(secret, body, headers[SIGNATURE_HEADER], now=time.time())
            names.append(json.loads(body)["event"])
        return names


def _webhook(world: ApiWorld, tenant: str, url: str) -> str:
    """Set the tenant's key-policy webhook as its tenant-admin; the signing secret."""
    answer = world.client.put(f"/v1/tenants/{tenant}/key-policy", json={"webhook_url": url},
                              headers=world.as_role(tenant, "tenant-admin"))  # fmt: skip
    assert answer.status_code == 200, answer.text
    secret = world.vendor.policies.get(tenant).webhook_secret
    assert secret is not None
    return secret


def test_a_tenant_admin_handing_over_another_tenants_key_is_refused(world: ApiWorld) -> None:
    client, admin = world.client, world.as_role("acme", "tenant-admin")
    victim_key = world.customers["globex"].key_arn
    submitted = client.post("/v1/tenants/acme/key-configs", headers=admin,
                            json={"mode": "direct", "key_arn": victim_key})  # fmt: skip
    assert submitted.status_code == 201, submitted.text
    version = submitted.json()["version"]
    report = client.post("/v1/tenants/acme/verify", headers=admin, json={"version": version})
    assert report.status_code == 200 and report.json()["passed"] is False
    failed = [c for c in report.json()["checks"] if c["status"] == "failed"]
    assert [c["name"] for c in failed] == ["not_bound_elsewhere"]
    activated = client.post("/v1/tenants/acme/activate", headers=admin, json={"version": version})
    assert activated.status_code == 409, activated.text
    for answer in (submitted, report, activated):
        assert "globex" not in answer.text
    # acme still runs on its own key.
    active = world.vendor.tenants.active_config("acme")
    assert active is not None and active.config.key_arn == world.customers["acme"].key_arn


def test_a_stolen_tenant_admin_token_cannot_reroot_alone(world: ApiWorld) -> None:
    client, stolen = world.client, world.as_role("acme", "tenant-admin")
    receiver = _Receiver()
    secret = _webhook(world, "acme", receiver.url)  # the customer's alarm
    # The thief's own account, key policy bound to acme: every check passes.
    thief = new_customer(world.local_aws, world.vendor_role_arn)
    thief.key_policy(world.vendor_role_arn, tenant="acme")
    submitted = client.post("/v1/tenants/acme/key-configs", headers=stolen,
                            json={"mode": "direct", "key_arn": thief.key_arn})  # fmt: skip
    version = submitted.json()["version"]
    report = client.post("/v1/tenants/acme/verify", headers=stolen, json={"version": version})
    assert report.json()["passed"] is True, report.text

    refused = client.post("/v1/tenants/acme/activate", headers=stolen, json={"version": version})
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert problem["error"] == "ApprovalRequired"
    assert f"/v1/tenants/acme/key-configs/{version}/approve" in problem["fix"]
    own = client.post(f"/v1/tenants/acme/key-configs/{version}/approve", headers=stolen)
    assert own.status_code == 403 and own.json()["error"] == "ApprovalRequired"
    active = world.vendor.tenants.active_config("acme")
    assert active is not None and active.config.key_arn == world.customers["acme"].key_arn

    operator = world.auth(world.operator)
    approved = client.post(f"/v1/tenants/acme/key-configs/{version}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"].startswith("token:")
    assert approved.json()["approved_by"] != approved.json()["submitted_by"]
    done = client.post("/v1/tenants/acme/activate", headers=stolen, json={"version": version})
    assert done.status_code == 200 and done.json()["state"] == "ACTIVE"

    assert world.vendor.notifier.drain()
    assert receiver.events(secret) == [
        "key-config:submitted", "key-config:verified", "key-config:approval-required",
        "key-config:approved", "key-config:activated",
    ]  # fmt: skip
    receiver.server.shutdown()


def test_changing_the_webhook_is_announced_to_the_old_url(world: ApiWorld) -> None:
    old, new = _Receiver(), _Receiver()
    secret = _webhook(world, "globex", old.url)
    _webhook(world, "globex", new.url)  # e.g. a thief redirecting the alarm
    assert world.vendor.notifier.drain()
    assert old.events(secret) == ["webhook:changed"]
    assert json.loads(old.received[0][1])["detail"]["url"] == new.url
    old.server.shutdown()
    new.server.shutdown()


def test_writers_cannot_approve(world: ApiWorld) -> None:
    writer = world.as_role("globex", "writer")
    approve = world.client.post("/v1/tenants/globex/key-configs/1/approve", headers=writer)
    assert approve.status_code == 403
