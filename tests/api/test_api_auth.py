"""Authentication and authorization: every route checks the token's role and tenant.

The matrix runs every tenant route with every token. Expectations are written out by hand
here (not derived from ``byok.api.auth.ROLE_ACTIONS``), so a change in the permission table
must be a deliberate change in this file too.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from api_world import ROUTES, TENANTS, ApiWorld, Route
from sqlalchemy import select

from byok.store.tokens import ApiTokenRow, TokenRepository, hash_token

pytestmark = pytest.mark.localaws

# Own-tenant status per route and role (operator: vendor-wide). 403: role may not.
EXPECTED: dict[str, dict[str, int]] = {
    "tenant:read": {"tenant-admin": 200, "writer": 403, "reader": 403, "operator": 200},
    "tenant:offboard": {"tenant-admin": 403, "writer": 403, "reader": 403, "operator": 422},
    "policies": {"tenant-admin": 200, "writer": 403, "reader": 403, "operator": 200},
    "configs:list": {"tenant-admin": 200, "writer": 403, "reader": 403, "operator": 200},
    "config:submit": {"tenant-admin": 422, "writer": 403, "reader": 403, "operator": 403},
    "verify": {"tenant-admin": 404, "writer": 403, "reader": 403, "operator": 403},
    "activate": {"tenant-admin": 404, "writer": 403, "reader": 403, "operator": 403},
    "audit": {"tenant-admin": 200, "writer": 403, "reader": 403, "operator": 403},
    "tokens:list": {"tenant-admin": 200, "writer": 403, "reader": 403, "operator": 200},
    "doc:list": {"tenant-admin": 200, "writer": 200, "reader": 200, "operator": 403},
    "doc:get": {"tenant-admin": 200, "writer": 200, "reader": 200, "operator": 403},
    "doc:head": {"tenant-admin": 200, "writer": 200, "reader": 200, "operator": 403},
    "doc:put": {"tenant-admin": 200, "writer": 200, "reader": 403, "operator": 403},
    "doc:delete": {"tenant-admin": 404, "writer": 404, "reader": 403, "operator": 403},
    "scopes:put": {"tenant-admin": 403, "writer": 403, "reader": 403, "operator": 200},
}


def _call(world: ApiWorld, route: Route, tenant: str, headers: dict[str, str]) -> object:
    return world.client.request(
        route.method, route.path.format(tenant=tenant), headers=headers, **route.kwargs
    )


def _shape(response: Any) -> tuple[int, str, dict[str, Any]]:
    """Status, content type and problem body with the echoed tenant blanked (HEAD: no body)."""
    body = response.json() | {"tenant": None} if response.content else {}
    return response.status_code, response.headers.get("content-type", ""), body


@pytest.fixture(scope="module")
def seeded(api_any_db: ApiWorld) -> ApiWorld:
    """Both tenants hold ``shared/doc.txt``; on SQLite and on PostgreSQL."""
    api = api_any_db
    for tenant in TENANTS:
        put = api.client.put(
            f"/v1/tenants/{tenant}/documents/shared/doc.txt",
            content=f"{tenant} secret".encode(), headers=api.as_role(tenant, "writer"),
        )  # fmt: skip
        assert put.status_code == 200, put.text
    return api


@pytest.mark.parametrize("role", ["tenant-admin", "writer", "reader", "operator"])
def test_role_matrix_on_own_tenant(seeded: ApiWorld, role: str) -> None:
    headers = seeded.auth(seeded.operator) if role == "operator" else seeded.as_role("acme", role)
    got = {r.name: _call(seeded, r, "acme", headers).status_code for r in ROUTES}  # type: ignore[attr-defined]
    assert got == {name: by_role[role] for name, by_role in EXPECTED.items()}


@pytest.mark.parametrize("role", ["tenant-admin", "writer", "reader"])
def test_no_token_reaches_another_tenant_and_the_answer_leaks_nothing(
    seeded: ApiWorld, role: str
) -> None:
    headers = seeded.as_role("acme", role)
    for route in ROUTES:
        other = _call(seeded, route, "globex", headers)
        ghost = _call(seeded, route, "ghost-tenant", headers)
        assert other.status_code == 404, (route.name, other.text)  # type: ignore[attr-defined]
        # Same answer for a tenant that exists with the document as for one that does not.
        assert _shape(other) == _shape(ghost), route.name
        assert "globex secret" not in other.text  # type: ignore[attr-defined]
    # A document another tenant has is answered exactly like one nobody has.
    theirs = seeded.client.get("/v1/tenants/globex/documents/shared/doc.txt", headers=headers)
    nobody = seeded.client.get("/v1/tenants/globex/documents/shared/none.txt", headers=headers)
    mine_missing = seeded.client.get("/v1/tenants/acme/documents/shared/doc.txt", headers={})
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json() | {"detail": ""} == nobody.json() | {"detail": ""}
    assert mine_missing.status_code == 401
    # The other tenant's documents are untouched by the attempts.
    back = seeded.client.get(
        "/v1/tenants/globex/documents/shared/doc.txt", headers=seeded.as_role("globex", "reader")
    )
    assert back.content == b"globex secret"


def test_missing_document_of_own_tenant_gets_the_same_404_shape(seeded: ApiWorld) -> None:
    own = seeded.client.get(
        "/v1/tenants/acme/documents/shared/none.txt", headers=seeded.as_role("acme", "reader")
    )
    cross = seeded.client.get(
        "/v1/tenants/globex/documents/shared/none.txt", headers=seeded.as_role("acme", "reader")
    )
    assert own.status_code == cross.status_code == 404
    assert _shape(own) == _shape(cross)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer byok_0000000000000000_nope", "Bearer x" * 3],
)
def test_missing_or_invalid_tokens_get_401_problem(seeded: ApiWorld, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = seeded.client.get("/v1/tenants/acme/documents", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_operator_only_routes(seeded: ApiWorld) -> None:
    for path in ("/v1/tenants", "/v1/monitor", "/metrics"):
        assert seeded.client.get(path, headers=seeded.auth(seeded.operator)).status_code == 200
        for role in ("tenant-admin", "writer", "reader"):
            denied = seeded.client.get(path, headers=seeded.as_role("acme", role))
            assert denied.status_code == 403, (path, role)
    create = seeded.client.post(
        "/v1/tenants", json={"tenant": "sneaky"}, headers=seeded.as_role("acme", "tenant-admin")
    )
    assert create.status_code == 403


def test_tokens_are_stored_hashed_and_revocation_works(seeded: ApiWorld) -> None:
    admin = seeded.as_role("acme", "tenant-admin")
    minted = seeded.client.post(
        "/v1/tenants/acme/tokens", json={"role": "reader", "label": "ci"}, headers=admin
    ).json()
    token = minted["token"]
    assert token.startswith("byok_") and len(token) > 40
    with seeded.vendor.store.read() as session:
        row = session.scalars(select(ApiTokenRow).where(ApiTokenRow.id == minted["token_id"])).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)
    assert token not in repr(row.__dict__)
    listed = seeded.client.get("/v1/tenants/acme/tokens", headers=admin).json()
    assert minted["token_id"] in {t["token_id"] for t in listed}
    assert all("token" not in t for t in listed)
    reader = seeded.auth(token)
    assert seeded.client.get("/v1/tenants/acme/documents", headers=reader).status_code == 200
    revoke = seeded.client.delete(f"/v1/tenants/acme/tokens/{minted['token_id']}", headers=admin)
    assert revoke.status_code == 204
    assert seeded.client.get("/v1/tenants/acme/documents", headers=reader).status_code == 401
    # A tenant admin may not mint another admin, nor touch another tenant's tokens.
    escalate = seeded.client.post(
        "/v1/tenants/acme/tokens", json={"role": "tenant-admin"}, headers=admin
    )
    assert escalate.status_code == 403
    foreign = seeded.client.delete(f"/v1/tenants/acme/tokens/{minted['token_id']}",
                                   headers=seeded.as_role("globex", "tenant-admin"))  # fmt: skip
    assert foreign.status_code == 404


def test_a_guessed_token_with_a_real_id_is_refused(seeded: ApiWorld) -> None:
    real = seeded.tokens[("acme", "reader")]
    token_id = real.split("_")[1]
    forged = f"byok_{token_id}_{'A' * 43}"
    repo = TokenRepository(seeded.vendor.store)
    assert repo.authenticate(forged) is None
    assert repo.authenticate(real) is not None
    response = seeded.client.get("/v1/tenants/acme/documents", headers=seeded.auth(forged))
    assert response.status_code == 401
