"""Access reasons and scopes over the API: a tenant's token acts as customer-request.

Document routes take only tenant-scoped tokens, so every API use of a tenant's key is
``customer-request`` (in the audit log and, as ``byok:reason``, in the customer's CloudTrail);
a caller cannot claim a vendor reason. A refused scope is a 403 problem naming it, and the
tenant-admin reads it at ``key-policy``. Scopes are the operator's to set.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_world import ApiWorld

from byok.core.policy.templates.levers import AccessLevers

pytestmark = pytest.mark.localaws

DOC = "/v1/tenants/acme/documents/notes/reasons.txt"
SUPPORT = {"Byok-Access-Reason": "vendor-support", "Byok-Support-Ticket": "SUP-7"}


def _last_get(api: ApiWorld) -> dict[str, Any]:
    gets = [e.event for e in api.vendor.audit.events("acme") if e.event.operation == "document:get"]
    return dict(gets[-1].detail)


def test_a_tenant_token_is_customer_request_and_cannot_claim_another_reason(
    api: ApiWorld,
) -> None:
    writer = api.as_role("acme", "writer")
    assert api.client.put(DOC, content=b"reasons", headers=writer).status_code == 200
    assert api.client.get(DOC, headers=writer).content == b"reasons"
    assert _last_get(api) == {"reason": "customer-request"}
    for header in SUPPORT:
        answer = api.client.get(DOC, headers=writer | {header: SUPPORT[header]})
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == header


def test_a_scope_refused_by_the_customer_is_a_403_naming_it(api: ApiWorld) -> None:
    operator, writer = api.auth(api.operator), api.as_role("acme", "writer")
    rules = {"rules": [{"prefix": "hr/", "scope": "hr"}]}
    assert api.client.put("/v1/tenants/acme/scopes", json=rules, headers=operator).is_success
    assert api.client.put("/v1/tenants/acme/documents/hr/pay.txt", content=b"$",
                          headers=writer).status_code == 200  # fmt: skip
    customer = api.customers["acme"]
    customer.key_policy(
        api.vendor_role_arn, tenant="acme", levers=AccessLevers(deny_scopes=("hr",))
    )
    api.vendor.envelope.purge_tenant("acme")  # as after the revocation bound
    refused = api.client.get("/v1/tenants/acme/documents/hr/pay.txt", headers=writer)
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["code"] == "use-refused" and body["refused_scope"] == "hr"
    assert api.client.put(DOC, content=b"other scope", headers=writer).status_code == 200
    assert api.client.get(DOC, headers=writer).content == b"other scope"
    admin = api.as_role("acme", "tenant-admin")
    policy = api.client.get("/v1/tenants/acme/key-policy", headers=admin).json()
    assert [(e["dimension"], e["value"]) for e in policy["refused"]] == [("scope", "hr")]
    tenant = api.client.get("/v1/tenants/acme", headers=admin).json()
    assert tenant["state"] == "ACTIVE"
    customer.key_policy(api.vendor_role_arn, tenant="acme")
    api.client.put("/v1/tenants/acme/scopes", json={"rules": []}, headers=operator)


def test_the_operator_sets_scopes_and_the_tenant_admin_reads_them(api: ApiWorld) -> None:
    body = {"rules": [{"prefix": "legal/", "scope": "legal"}], "period_unit": "day"}
    put = api.client.put("/v1/tenants/acme/scopes", json=body, headers=api.auth(api.operator))
    assert put.status_code == 200, put.text
    bad = api.client.put(
        "/v1/tenants/acme/scopes", json={"rules": [{"prefix": "x/", "scope": "no spaces"}]},
        headers=api.auth(api.operator),
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "scope_rules"
    seen = api.client.get(
        "/v1/tenants/acme/key-policy", headers=api.as_role("acme", "tenant-admin")
    ).json()
    assert seen["scope_rules"] == [{"prefix": "legal/", "scope": "legal"}]
    assert seen["period_unit"] == "day"
    writer = api.as_role("acme", "writer")
    assert (
        api.client.put(
            "/v1/tenants/acme/documents/legal/a.txt", content=b"l", headers=writer
        ).status_code
        == 200
    )
    key = api.vendor.tenant_keys.current("acme", "legal")
    assert key is not None and key.context["byok:scope"] == "legal"
    assert len(key.context["byok:period"]) == len("2026-12-03")
    api.client.put(
        "/v1/tenants/acme/scopes", json={"rules": [], "period_unit": "month"},
        headers=api.auth(api.operator),
    )  # fmt: skip


def test_the_policies_route_adds_the_customers_levers(api: ApiWorld) -> None:
    params: dict[str, Any] = {
        "mode": "assume-role", "customer_account": "123456789012", "deny_scope": ["hr", "legal"],
        "deny_reason": "vendor-support", "require_context": "true",
    }  # fmt: skip
    kit = api.client.get(
        "/v1/tenants/acme/policies", params=params, headers=api.as_role("acme", "tenant-admin")
    )
    assert kit.status_code == 200, kit.text
    statements = kit.json()["key-policy-statements.json"]
    assert '"hr"' in statements and "vendor-support" in statements
    assert "any use without a scope" in statements
    bad = api.client.get(
        "/v1/tenants/acme/policies", params=params | {"deny_reason": "curiosity"},
        headers=api.as_role("acme", "tenant-admin"),
    )  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "deny_reason"
