"""A tenant's document generations count only its own writes (finding 7 of issue 12): the
store-wide counter showed a tenant how many writes other tenants made in between."""

from __future__ import annotations

import pytest
from hostile_client import Served

pytestmark = pytest.mark.localaws


def test_generations_say_nothing_about_other_tenants(served: Served) -> None:
    acme, globex = served.auth("acme", "writer"), served.auth("globex", "writer")
    with served.client() as client:

        def put(tenant: str, name: str, headers: dict[str, str]) -> int:
            response = client.put(f"/v1/tenants/{tenant}/documents/side/{name}", content=b"x",
                                  headers=headers)  # fmt: skip
            assert response.status_code == 200, response.text
            assert response.json()["generation"] == int(response.json()["generation"])
            return int(response.json()["generation"])

        first = put("acme", "a", acme)
        for i in range(5):
            put("globex", f"g{i}", globex)
        second = put("acme", "b", acme)
        assert second == first + 1
        # The same name's versions still increase, and HEAD/ETag show the same number.
        third = put("acme", "a", acme)
        assert third == second + 1
        head = client.head("/v1/tenants/acme/documents/side/a", headers=acme)
        assert head.headers["x-byok-generation"] == str(third)
        assert head.headers["etag"] == f'"{third}"'
