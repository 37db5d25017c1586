"""The key-event receiver over HTTP: no bearer token, the tenant's secret instead.

The route must accept an EventBridge delivery (secret in ``X-Byok-Event-Key``), refuse
anything else with one 401 problem that carries the stable code ``event-rejected``, never
hand out the secret again, and let the tenant-admin (only) set the key policy.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime

import pytest
from api_world import ApiWorld


def event(name: str = "PutKeyPolicy") -> bytes:
    return json.dumps({
        "id": str(uuid.uuid4()), "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.kms",
        "detail": {"eventSource": "kms.amazonaws.com", "eventName": name},
    }).encode()  # fmt: skip


def test_receiver_authenticates_by_the_tenant_secret(api: ApiWorld) -> None:
    client, admin = api.client, api.as_role("acme", "tenant-admin")
    made = client.post("/v1/tenants/acme/key-events/secret", headers=admin)
    assert made.status_code == 201, made.text
    secret, path, header = made.json()["secret"], made.json()["path"], made.json()["header"]
    assert path == "/v1/key-events/acme" and header == "X-Byok-Event-Key"
    # No BYOK_PUBLIC_URL: the request's own origin, and a note that it is only that.
    assert made.json()["url"] == "http://testserver/v1/key-events/acme"
    assert "BYOK_PUBLIC_URL" in made.json()["url_note"]
    ok = client.post(path, content=event(), headers={header: secret})
    assert ok.status_code == 202, ok.text
    assert ok.json()["outcome"] == "accessible" and ok.json()["state"] == "ACTIVE"
    for headers in ({}, {header: "byokev_nope"}, {"Authorization": f"Bearer {api.operator}"}):
        refused = client.post(path, content=event(), headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "event-rejected"
        assert refused.headers["content-type"].startswith("application/problem+json")
    other = client.post("/v1/key-events/globex", content=event(), headers={header: secret})
    assert other.status_code == 401  # acme's secret is not globex's
    shown = client.get("/v1/tenants/acme/key-policy", headers=admin).json()
    assert shown["push_revocation"] is True and secret not in json.dumps(shown)


def test_the_secrets_url_is_the_public_url_when_set(
    api: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = dataclasses.replace(api.vendor.settings, public_url="https://byok.vendor.example/")
    monkeypatch.setattr(api.vendor, "settings", public)
    made = api.client.post("/v1/tenants/acme/key-events/secret",
                           headers=api.as_role("acme", "tenant-admin"))  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["url"] == "https://byok.vendor.example/v1/key-events/acme"
    assert made.json()["url_note"] is None


def test_key_policy_is_the_tenant_admins(api: ApiWorld) -> None:
    client = api.client
    body = {"outage_grace_s": 10, "on_key_loss": "keep"}
    writer = client.put("/v1/tenants/acme/key-policy", json=body,
                        headers=api.as_role("acme", "writer"))  # fmt: skip
    assert writer.status_code == 403
    admin = client.put("/v1/tenants/acme/key-policy", json=body,
                       headers=api.as_role("acme", "tenant-admin"))  # fmt: skip
    assert admin.status_code == 200, admin.text
    assert admin.json()["outage_grace_s"] == 10
    too_long = client.put("/v1/tenants/acme/key-policy", json={"outage_grace_s": 999},
                          headers=api.as_role("acme", "tenant-admin"))  # fmt: skip
    assert too_long.status_code == 422 and too_long.json()["code"] == "invalid-input"


def test_error_problems_carry_the_stable_code(api: ApiWorld) -> None:
    missing = api.client.get("/v1/tenants/acme/documents/none",
                             headers=api.as_role("acme", "reader"))  # fmt: skip
    assert missing.status_code == 404 and missing.json()["code"] == "no-such-resource"
