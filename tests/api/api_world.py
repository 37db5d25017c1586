"""The API tests' world: a real Vendor over the local AWS, served by the real app.

One world per module (onboarding through the API takes a few KMS round trips): the
operator creates tenants over the API, the customers set up their keys in the local AWS,
each tenant's admin submits, verifies and activates its configuration over the API, and
tokens of every role are minted. Nothing is patched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from byok.api import create_app
from byok.service.vendor import Vendor
from byok.store.tokens import mint_token
from support.world import CustomerAccount, build_vendor, new_customer

TENANTS = ("acme", "globex")
ROLES = ("tenant-admin", "writer", "reader")


@dataclass
class ApiWorld:
    """The served app, its vendor, customers and a token per (tenant, role)."""

    client: TestClient
    vendor: Vendor
    local_aws: Any
    vendor_role_arn: str
    operator: str
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    customers: dict[str, CustomerAccount] = field(default_factory=dict)

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def as_role(self, tenant: str, role: str) -> dict[str, str]:
        return self.auth(self.tokens[(tenant, role)])


def onboard(world: ApiWorld, tenant: str) -> None:
    """Option A onboarding over the API: create, key policy, configure, verify, activate."""
    client, op = world.client, world.auth(world.operator)
    created = client.post("/v1/tenants", json={"tenant": tenant}, headers=op)
    assert created.status_code == 201, created.text
    admin = client.post(f"/v1/tenants/{tenant}/tokens", json={"role": "tenant-admin"}, headers=op)
    assert admin.status_code == 201, admin.text
    world.tokens[(tenant, "tenant-admin")] = admin.json()["token"]
    customer = new_customer(world.local_aws, world.vendor_role_arn)
    customer.key_policy(world.vendor_role_arn, tenant=tenant)
    world.customers[tenant] = customer
    headers = world.as_role(tenant, "tenant-admin")
    body = {"mode": "direct", "key_arn": customer.key_arn}
    assert client.post(f"/v1/tenants/{tenant}/key-configs", json=body, headers=headers).is_success
    report = client.post(f"/v1/tenants/{tenant}/verify", headers=headers)
    assert report.status_code == 200 and report.json()["passed"], report.text
    activated = client.post(f"/v1/tenants/{tenant}/activate", headers=headers)
    assert activated.json()["state"] == "ACTIVE", activated.text
    for role in ("writer", "reader"):
        minted = client.post(f"/v1/tenants/{tenant}/tokens", json={"role": role}, headers=headers)
        assert minted.status_code == 201, minted.text
        world.tokens[(tenant, role)] = minted.json()["token"]


def make_world(local_aws: Any, database_url: str, blob_dir: Path, **app_options: Any) -> ApiWorld:
    """Build a vendor, serve it, onboard :data:`TENANTS`."""
    vendor, role_arn = build_vendor(local_aws, database_url, blob_dir)
    operator = mint_token(vendor.store, "operator", label="tests").token
    client = TestClient(create_app(vendor, **app_options))
    world = ApiWorld(client, vendor, local_aws, role_arn, operator)
    for tenant in TENANTS:
        onboard(world, tenant)
    return world


@dataclass(frozen=True)
class Route:
    """One tenant-scoped route with a request that is well-formed for it."""

    name: str
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)


ROUTES = (
    Route("tenant:read", "GET", "/v1/tenants/{tenant}"),
    # Never the right confirmation here: an operator gets 422 and nothing is destroyed, so
    # the shared seeded tenants survive (the real offboarding: test_api_offboard.py).
    Route("tenant:offboard", "DELETE", "/v1/tenants/{tenant}",
          {"params": {"confirm": "not-the-tenant-id"}}),
    Route("policies", "GET", "/v1/tenants/{tenant}/policies",
          {"params": {"mode": "direct", "customer_account": "111122223333"}}),
    Route("configs:list", "GET", "/v1/tenants/{tenant}/key-configs"),
    # A well-formed request whose key ARN is an alias: the service refuses it (422).
    Route("config:submit", "POST", "/v1/tenants/{tenant}/key-configs",
          {"json": {"mode": "direct", "key_arn": "alias/not-a-key-arn"}}),
    Route("verify", "POST", "/v1/tenants/{tenant}/verify", {"json": {"version": 999}}),
    Route("activate", "POST", "/v1/tenants/{tenant}/activate", {"json": {"version": 999}}),
    Route("audit", "GET", "/v1/tenants/{tenant}/audit"),
    Route("tokens:list", "GET", "/v1/tenants/{tenant}/tokens"),
    Route("doc:list", "GET", "/v1/tenants/{tenant}/documents"),
    Route("doc:get", "GET", "/v1/tenants/{tenant}/documents/shared/doc.txt"),
    Route("doc:head", "HEAD", "/v1/tenants/{tenant}/documents/shared/doc.txt"),
    Route("doc:put", "PUT", "/v1/tenants/{tenant}/documents/shared/matrix.txt",
          {"content": b"matrix"}),
    Route("doc:delete", "DELETE", "/v1/tenants/{tenant}/documents/shared/never-there.txt"),
    Route("scopes:put", "PUT", "/v1/tenants/{tenant}/scopes", {"json": {"period_unit": "month"}}),
)  # fmt: skip
