"""One credential per request, checked before anything else; the audit names the token
that really authenticated (findings 2 and 8 of issue 12)."""

from __future__ import annotations

import json

import httpx
import pytest
from hostile_client import Served

pytestmark = pytest.mark.localaws


def _actors(served: Served, document: str) -> list[str]:
    admin = served.auth("acme", "tenant-admin")
    with served.client() as client:
        lines = client.get("/v1/tenants/acme/audit", headers=admin).text.splitlines()
    return [e["actor"] for e in map(json.loads, lines) if e.get("document") == document]


def _token_id(token: str) -> str:
    return token.split("_")[1]


def test_a_second_authorization_header_is_refused_and_nothing_happens(served: Served) -> None:
    world = served.world
    writer, operator = world.tokens[("acme", "writer")], world.operator
    with served.client() as client:
        assert client.put("/v1/tenants/acme/documents/dup/a.txt", content=b"keep me",
                          headers=world.auth(writer)).status_code == 200  # fmt: skip
        # httpx sends both headers as given (a list of pairs keeps duplicates).
        headers = [("Authorization", f"Bearer {writer}"), ("Authorization", f"Bearer {operator}")]
        refused = client.request("DELETE", "/v1/tenants/acme/documents/dup/a.txt", headers=headers)
        assert refused.status_code == 400
        assert refused.json()["error"] == "DuplicateCredential"
        assert refused.headers["content-type"] == "application/problem+json"
        # Nothing was deleted, in either order of the two headers.
        refused = client.request("DELETE", "/v1/tenants/acme/documents/dup/a.txt",
                                 headers=headers[::-1])  # fmt: skip
        assert refused.status_code == 400
        got = client.get("/v1/tenants/acme/documents/dup/a.txt", headers=world.auth(writer))
        assert got.content == b"keep me"


def test_the_audit_actor_is_the_authenticated_token(served: Served) -> None:
    world = served.world
    writer = world.tokens[("acme", "writer")]
    with served.client() as client:
        assert client.put("/v1/tenants/acme/documents/actor/b.txt", content=b"x",
                          headers=world.auth(writer)).status_code == 200  # fmt: skip
        deleted = client.delete("/v1/tenants/acme/documents/actor/b.txt",
                                headers=world.auth(writer))  # fmt: skip
        assert deleted.status_code == 200
    assert _actors(served, "actor/b.txt") == [f"token:{_token_id(writer)}"] * 2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/tenants", b"{not json"),
        ("POST", "/v1/tenants/acme/verify", b"[1, 2"),
        ("POST", "/v1/tenants/acme/key-configs", b'{"mode": 7}'),
        ("GET", "/v1/tenants/NOT A TENANT!/documents", b""),
        ("BREW", "/coffee", b""),
        ("GET", "/no/such/route", b""),
    ],
)
def test_no_token_learns_nothing_about_its_input(
    served: Served, method: str, path: str, body: bytes
) -> None:
    with served.client() as client:
        for headers in ({}, {"Authorization": "Bearer byok_0123456789abcdef_wrong"}):
            response = client.request(method, path, content=body, headers={
                "Content-Type": "application/json", **headers})  # fmt: skip
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_role_that_may_not_call_a_route_learns_nothing_about_its_input(served: Served) -> None:
    reader = served.auth("acme", "reader")
    other_admin = served.auth("globex", "tenant-admin")
    with served.client() as client:
        for path in ("/v1/tenants/acme/verify", "/v1/tenants/acme/key-configs"):
            response = client.post(path, content=b"{broken", headers={
                **reader, "Content-Type": "application/json"})  # fmt: skip
            assert response.status_code == 403, response.text
            # Another tenant's admin gets the 404 a missing tenant gets, input unread.
            response = client.post(path, content=b"{broken", headers={
                **other_admin, "Content-Type": "application/json"})  # fmt: skip
            assert response.status_code == 404, response.text
        # An authorised caller does get the validation answer.
        admin = served.auth("acme", "tenant-admin")
        response = client.post("/v1/tenants/acme/verify", content=b"{broken",
                               headers={**admin, "Content-Type": "application/json"})  # fmt: skip
        assert response.status_code == 422


def test_probes_need_no_token_and_ignore_one(served: Served) -> None:
    with served.client() as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").json()["checks"] == {"database": "ok"}
        headers = [("Authorization", "Bearer a"), ("Authorization", "Bearer b")]
        assert client.get("/healthz", headers=headers).status_code == 200
        assert isinstance(httpx.get(f"{served.url}/openapi.json").json(), dict)
