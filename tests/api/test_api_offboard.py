"""``DELETE /v1/tenants/{tenant}?confirm=<tenant id>``: operator-only offboarding.

Destructive, so it runs in this module's own world (``api_any_db`` is module-scoped: the
seeded tenants of test_api_auth.py are another world), on SQLite and on PostgreSQL. The
tenant actually offboarded is onboarded here for that purpose; ``acme`` and ``globex`` are
only ever attacked with requests that must be refused, and are checked intact afterwards.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from api_world import ApiWorld, onboard

from byok.errors import NotFound, StateError

pytestmark = pytest.mark.localaws

DOCS = ("a.txt", "reports/q3.pdf", "reports/q4.pdf")


def _offboard(world: ApiWorld, tenant: str, headers: dict[str, str], **params: str) -> Any:
    return world.client.delete(f"/v1/tenants/{tenant}", params=params, headers=headers)


def _intact(world: ApiWorld, tenant: str) -> None:
    """The tenant is ACTIVE and its document still decrypts."""
    state = world.client.get(f"/v1/tenants/{tenant}", headers=world.auth(world.operator))
    assert state.json()["state"] == "ACTIVE", state.text
    doc = world.client.get(
        f"/v1/tenants/{tenant}/documents/keep.txt", headers=world.as_role(tenant, "reader")
    )
    assert doc.status_code == 200 and doc.content == f"{tenant} keep".encode(), doc.text


@pytest.fixture(scope="module")
def world(api_any_db: ApiWorld) -> ApiWorld:
    """This module's world; ``acme`` and ``globex`` each hold ``keep.txt``."""
    for tenant in ("acme", "globex"):
        put = api_any_db.client.put(
            f"/v1/tenants/{tenant}/documents/keep.txt",
            content=f"{tenant} keep".encode(), headers=api_any_db.as_role(tenant, "writer"),
        )  # fmt: skip
        assert put.status_code == 200, put.text
    return api_any_db


@pytest.mark.parametrize("role", ["tenant-admin", "writer", "reader"])
def test_tenant_roles_may_not_offboard_even_with_the_right_confirmation(
    world: ApiWorld, role: str
) -> None:
    headers = world.as_role("acme", role)
    own = _offboard(world, "acme", headers, confirm="acme")
    assert own.status_code == 403, own.text
    assert own.headers["content-type"] == "application/problem+json"
    other = _offboard(world, "globex", headers, confirm="globex")
    ghost = _offboard(world, "ghost-tenant", headers, confirm="ghost-tenant")
    assert other.status_code == ghost.status_code == 404
    # Another tenant's answer is exactly a non-existent tenant's (the tenant echo aside).
    assert other.json() | {"tenant": None} == ghost.json() | {"tenant": None}
    assert _offboard(world, "acme", {}, confirm="acme").status_code == 401
    _intact(world, "acme")
    _intact(world, "globex")


@pytest.mark.parametrize(
    "params", [{}, {"confirm": ""}, {"confirm": "globex"}, {"confirm": "ACME"}, {"confirm": "acm"}]
)
def test_a_wrong_or_missing_confirmation_is_422_and_destroys_nothing(
    world: ApiWorld, params: dict[str, str]
) -> None:
    response = _offboard(world, "acme", world.auth(world.operator), **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["error"], body["field"]) == ("InvalidInput", "confirm")
    _intact(world, "acme")
    events = world.client.get(
        "/v1/tenants/acme/audit", headers=world.as_role("acme", "tenant-admin")
    )
    assert '"tenant:offboard"' not in events.text and '"tenant:crypto-shred"' not in events.text


def test_operator_offboards_a_tenant_and_only_that_tenant(world: ApiWorld) -> None:
    onboard(world, "doomed")
    writer = world.as_role("doomed", "writer")
    for name in DOCS:
        put = world.client.put(f"/v1/tenants/doomed/documents/{name}", content=b"doomed secret",
                               headers=writer)  # fmt: skip
        assert put.status_code == 200, put.text
    # Overwritten once: the superseded version's blob goes too.
    assert world.client.put("/v1/tenants/doomed/documents/a.txt", content=b"y",
                            headers=writer).status_code == 200  # fmt: skip
    operator = world.auth(world.operator)

    response = _offboard(world, "doomed", operator, confirm="doomed")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert set(report) == {"tenant", "previous_state", "tk_ids", "key_arns", "document_rows",
                           "blobs", "configs_retired", "audit_seq", "vendor_key_destroyed",
                           "still_decryptable", "customer_action"}  # fmt: skip
    assert report["vendor_key_destroyed"] is True
    assert "disable or schedule deletion" in report["customer_action"]
    assert report["tenant"] == "doomed"
    assert report["previous_state"] == "ACTIVE"
    assert len(report["tk_ids"]) >= 1 and all(isinstance(t, str) for t in report["tk_ids"])
    assert report["key_arns"] == [world.customers["doomed"].key_arn]
    assert report["document_rows"] == len(DOCS)
    assert report["blobs"] >= len(DOCS)
    assert report["configs_retired"] == [1]
    assert isinstance(report["audit_seq"], int) and report["audit_seq"] > 0

    state = world.client.get("/v1/tenants/doomed", headers=operator).json()
    assert state["state"] == "OFFBOARDED"
    # Offboarding revoked every token of the tenant in the same transaction (issue 12):
    # the tenant's own tokens get 401 everywhere, and no new one can be minted.
    admin = world.as_role("doomed", "tenant-admin")
    for headers in (writer, admin, world.as_role("doomed", "reader")):
        for path in ("/v1/tenants/doomed", "/v1/tenants/doomed/documents",
                     f"/v1/tenants/doomed/documents/{DOCS[0]}", "/v1/tenants/doomed/audit",
                     "/v1/tenants/doomed/tokens"):  # fmt: skip
            assert world.client.get(path, headers=headers).status_code == 401, path
    assert world.client.post("/v1/tenants/doomed/tokens", json={"role": "writer"},
                             headers=admin).status_code == 401  # fmt: skip
    minted = world.client.post("/v1/tenants/doomed/tokens", json={"role": "writer"},
                               headers=operator)  # fmt: skip
    assert minted.status_code == 409 and minted.json()["error"] == "StateError", minted.text
    # The documents are gone for the service too (what any later token would meet).
    vendor = world.vendor
    for name in DOCS:
        with pytest.raises(NotFound):
            vendor.head_document("doomed", name)
        with pytest.raises(StateError, match="OFFBOARDED"):
            vendor.get_document("doomed", name)
    assert vendor.list_documents("doomed").items == ()
    with pytest.raises(StateError):
        vendor.put_document("doomed", "new.txt", io.BytesIO(b"z"))
    assert list(vendor.documents.blobs.list("doomed/")) == []
    # The audit chain keeps the offboarding (same event names the 422 test looks for).
    audit = io.StringIO()
    vendor.audit.export_jsonl("doomed", audit)
    assert '"tenant:crypto-shred"' in audit.getvalue() and '"tenant:offboard"' in audit.getvalue()
    _intact(world, "acme")
    _intact(world, "globex")

    # Again: finishes an interrupted run; here there is nothing left to delete.
    again = _offboard(world, "doomed", operator, confirm="doomed")
    assert again.status_code == 200, again.text
    assert again.json()["previous_state"] == "OFFBOARDED"
    assert (again.json()["document_rows"], again.json()["blobs"]) == (0, 0)
    assert again.json()["audit_seq"] > report["audit_seq"]


def test_offboarding_a_tenant_that_does_not_exist_is_404(world: ApiWorld) -> None:
    response = _offboard(world, "ghost-tenant", world.auth(world.operator), confirm="ghost-tenant")
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "NotFound"


def test_the_operation_is_documented_with_its_report_and_problem_responses(
    world: ApiWorld,
) -> None:
    document = world.client.get("/openapi.json").json()
    operation = document["paths"]["/v1/tenants/{tenant}"]["delete"]
    confirm = next(p for p in operation["parameters"] if p["name"] == "confirm")
    assert confirm["in"] == "query" and confirm["required"] is True
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/OffboardOut"}
    assert set(document["components"]["schemas"]["OffboardOut"]["required"]) == {
        "tenant", "previous_state", "tk_ids", "key_arns", "document_rows", "blobs",
        "configs_retired", "audit_seq", "vendor_key_destroyed", "still_decryptable",
        "customer_action",
    }  # fmt: skip
    for status in ("401", "403", "404", "422", "500"):
        problem = operation["responses"][status]["content"]["application/problem+json"]
        assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}, status
