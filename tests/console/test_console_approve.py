"""Approving a re-rooting configuration from the console, over HTTP as hostile clients.

A tenant in service on its own key gets, from one of its tenant-admin tokens (the console's
hand-over form), a configuration whose key is in another AWS account: every check passes,
activation waits for a second principal. The operator approves it from the operator page;
with ``BYOK_TENANT_ADMIN_APPROVALS=1`` a second tenant-admin may from the tenant's verify
page. Nothing else may: a form without the CSRF token, the submitter itself, a tenant-admin
by default, another tenant's admin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from console_world import ConsoleWorld, sign_in
from fastapi.testclient import TestClient

from byok.api import create_app
from byok.service.vendor import Vendor
from byok.store.tokens import mint_token, token_id_of

pytestmark = pytest.mark.localaws


def _client(vendor: Vendor) -> TestClient:
    return TestClient(create_app(vendor), follow_redirects=False)


@pytest.fixture
def client(world: ConsoleWorld) -> Iterator[TestClient]:
    with _client(world.vendor) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def lenient(world: ConsoleWorld) -> Vendor:
    """A second server on the same database whose vendor set BYOK_TENANT_ADMIN_APPROVALS=1."""
    vendor = world.vendor
    settings = dataclasses.replace(vendor.settings, tenant_admin_approvals=True)
    return Vendor(settings, store=vendor.store, blobs=vendor.documents.blobs,
                  factory=vendor.factory)  # fmt: skip


def _rerooting(world: ConsoleWorld, client: TestClient, tenant: str) -> int:
    """``tenant`` ACTIVE on its own key, then its admin hands over (in the console) a key in
    another account that passes every check; returns that version (waiting for approval)."""
    vendor = world.vendor
    admin = world.new_tenant(tenant)
    own = world.customer_setup(tenant, "direct")
    vendor.submit_config(tenant, mode="direct", key_arn=own["key_arn"])
    assert vendor.verify(tenant).passed
    vendor.activate(tenant)
    other = world.customer_setup(tenant, "direct")  # a new AWS account
    csrf = sign_in(client, admin)
    body = {"csrf_token": csrf, "mode": "direct", "key_arn": other["key_arn"],
            "region": "us-east-1"}  # fmt: skip
    assert client.post(f"/console/t/{tenant}/setup/handover", data=body).status_code == 303
    assert client.post(f"/console/t/{tenant}/verify", data={"csrf_token": csrf}).status_code == 303
    refused = client.post(f"/console/t/{tenant}/activate", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "approve" in refused.text, refused.text
    client.cookies.clear()
    newest = vendor.tenants.configs(tenant)[-1]
    assert newest.state.value == "VERIFIED" and newest.submitted_by == _principal(admin)
    return newest.version


def _principal(token: str) -> str:
    return f"token:{token_id_of(token)}"


def _approved_by(world: ConsoleWorld, tenant: str, version: int) -> str | None:
    return world.vendor.tenants.config(tenant, version).approved_by


def _admin(world: ConsoleWorld, tenant: str) -> str:
    """A second tenant-admin token of ``tenant`` (another person at the customer)."""
    return mint_token(world.vendor.store, "tenant-admin", tenant=tenant, label="second").token


def test_the_operator_approves_from_the_operator_page(
    client: TestClient, world: ConsoleWorld
) -> None:
    version = _rerooting(world, client, "wayne")
    csrf = sign_in(client, world.operator)
    page = client.get("/console/operator")
    action = f'action="/console/t/wayne/key-configs/{version}/approve"'
    assert action in page.text and _principal(world.admins["wayne"]) in page.text
    answer = client.post(f"/console/t/wayne/key-configs/{version}/approve",
                         data={"csrf_token": csrf})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/console/operator#approvals"
    assert _approved_by(world, "wayne", version) == _principal(world.operator)
    assert action not in client.get("/console/operator").text
    events = [e.event for e in world.vendor.audit.events("wayne")]
    approval = next(e for e in events if e.operation == "tenant:approve-config")
    assert approval.actor == f"console:token:{token_id_of(world.operator)}"
    # The submitter can now activate it.
    client.cookies.clear()
    csrf = sign_in(client, world.admins["wayne"])
    assert client.post("/console/t/wayne/activate", data={"csrf_token": csrf}).status_code == 303
    active = world.vendor.tenants.active_config("wayne")
    assert active is not None and active.version == version


def test_forged_approval_forms_change_nothing(client: TestClient, world: ConsoleWorld) -> None:
    version = _rerooting(world, client, "tyrell")
    csrf = sign_in(client, world.operator)
    path = f"/console/t/tyrell/key-configs/{version}/approve"
    for forged in ({}, {"csrf_token": "0" * 64}, {"csrf_token": csrf[:-1] + "x"}):
        assert client.post(path, data=forged).status_code == 403
    other_site = client.post(path, data={"csrf_token": csrf},
                             headers={"Origin": "https://evil.example"})  # fmt: skip
    assert other_site.status_code == 403
    client.cookies.clear()
    assert client.post(path, data={"csrf_token": csrf}).status_code == 403  # no session
    assert _approved_by(world, "tyrell", version) is None
    operations = [e.event.operation for e in world.vendor.audit.events("tyrell")]
    assert "tenant:approve-config" not in operations


def test_a_tenant_admin_may_not_approve_by_default(client: TestClient, world: ConsoleWorld) -> None:
    version = _rerooting(world, client, "cyberdyne")
    csrf = sign_in(client, _admin(world, "cyberdyne"))
    page = client.get("/console/t/cyberdyne/setup/verify")
    assert "The vendor's operator approves it" in page.text
    assert f"/key-configs/{version}/approve" not in page.text  # no button to offer
    answer = client.post(f"/console/t/cyberdyne/key-configs/{version}/approve",
                         data={"csrf_token": csrf})  # fmt: skip
    assert answer.status_code == 403, answer.text
    assert "may not approve key configurations" in answer.text and "Fix:" in answer.text
    assert _approved_by(world, "cyberdyne", version) is None


def test_with_tenant_admin_approvals_a_second_admin_approves_but_not_the_submitter(
    world: ConsoleWorld, lenient: Vendor
) -> None:
    with _client(world.vendor) as setup:
        version = _rerooting(world, setup, "soylent")
    path = f"/console/t/soylent/key-configs/{version}/approve"
    with _client(lenient) as client:
        csrf = sign_in(client, world.admins["soylent"])  # the submitter
        page = client.get("/console/t/soylent/setup/verify")
        assert "You submitted it" in page.text and path not in page.text
        own = client.post(path, data={"csrf_token": csrf})
        assert own.status_code == 403, own.text
        assert "the principal that submitted a configuration cannot also approve it" in own.text
        assert _approved_by(world, "soylent", version) is None
        client.cookies.clear()
        second = _admin(world, "soylent")
        csrf = sign_in(client, second)
        assert f'action="{path}"' in client.get("/console/t/soylent/setup/verify").text
        answer = client.post(path, data={"csrf_token": csrf})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/t/soylent/setup/verify"
    assert _approved_by(world, "soylent", version) == _principal(second)


def test_another_tenants_admin_cannot_approve(world: ConsoleWorld, lenient: Vendor) -> None:
    with _client(world.vendor) as setup:
        version = _rerooting(world, setup, "oscorp")
    stranger = world.new_tenant("lexcorp")
    path = f"/console/t/oscorp/key-configs/{version}/approve"
    for vendor in (world.vendor, lenient):  # with or without tenant-admin approvals
        with _client(vendor) as client:
            csrf = sign_in(client, stranger)
            answer = client.post(path, data={"csrf_token": csrf})
            assert answer.status_code == 404, answer.text
            assert "oscorp" not in answer.text.replace("/console/t/oscorp", "")
    assert _approved_by(world, "oscorp", version) is None
