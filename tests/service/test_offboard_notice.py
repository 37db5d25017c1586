"""Offboarding asks the customer to take its key back through the tenant's webhook too: a
signed ``tenant:offboarded`` notice with the key ARNs and the same request as the report."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from byok.service.notify import SIGNATURE_HEADER, verify
from byok.service.offboarding import offboard_tenant
from byok.store.key_policies import KeyPolicyRepository
from support.world import World

pytestmark = pytest.mark.localaws
SECRET = "w" * 64


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    received: list[tuple[bytes, str]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get(SIGNATURE_HEADER, "")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_offboarding_sends_the_customer_a_signed_request_to_revoke(
    world: World, receiver: tuple[str, list[tuple[bytes, str]]]
) -> None:
    url, received = receiver
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("acme")
    customer.key_policy(customer.vendor_role_arn, tenant="acme")
    vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    vendor.verify("acme")
    vendor.activate("acme")
    vendor.put_document("acme", "doc", b"x")
    KeyPolicyRepository(vendor.store).update("acme", webhook_url=url, webhook_secret=SECRET)

    report = offboard_tenant(vendor, "acme", confirm="acme")
    assert vendor.notifier.drain(timeout_s=10)
    notices = [(json.loads(body), sig) for body, sig in received]
    [(notice, signature)] = [(n, s) for n, s in notices if n["event"] == "tenant:offboarded"]
    body = next(b for b, _ in received if json.loads(b)["event"] == "tenant:offboarded")
    assert verify(SECRET, body, signature, now=time.time())
    assert notice["tenant"] == "acme"
    assert notice["detail"]["key_arns"] == [customer.key_arn]
    assert notice["detail"]["customer_action"] == report.customer_action
    assert customer.key_arn in report.customer_action
