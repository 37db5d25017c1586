"""Onboarding over the API, audit export, key monitor, probes, metrics and the OpenAPI
document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_world import TENANTS, ApiWorld

from byok.service.monitor import KeyMonitor
from support.world import new_customer

pytestmark = pytest.mark.localaws


def test_create_tenant_returns_external_id_and_exact_policies(api: ApiWorld) -> None:
    op = api.auth(api.operator)
    created = api.client.post("/v1/tenants", json={"tenant": "initech", "name": "Initech"},
                              headers=op)  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    assert body["state"] == "PENDING" and body["external_id"].startswith("byok-")
    assert body["vendor_role_arn"] == api.vendor_role_arn
    statements = json.loads(body["policies"]["direct"]["key-policy-statements.json"])
    assert [s["Principal"] for s in statements] == [{"AWS": api.vendor_role_arn}] * 2
    assert {a for s in statements for a in s["Action"]} == set(body["vendor_kms_actions"])
    # Bound to this tenant by default (the use statement; DescribeKey has no context).
    tenant_condition = statements[0]["Condition"]["StringEquals"]
    assert tenant_condition["kms:EncryptionContext:byok:tenant"] == "initech"
    trust = json.loads(body["policies"]["assume-role"]["trust-policy.json"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"]
    assert condition == body["external_id"]
    again = api.client.post("/v1/tenants", json={"tenant": "initech"}, headers=op)
    assert again.status_code == 409 and again.json()["error"] == "Conflict"
    kit = api.client.get(
        "/v1/tenants/initech/policies", headers=op,
        params={"mode": "assume-role", "customer_account": "111122223333"},
    )  # fmt: skip
    assert kit.status_code == 200
    files = kit.json()
    assert {"key-policy.json", "cloudformation.json", "main.tf", "trust-policy.json"} <= set(files)
    assert body["external_id"] in files["trust-policy.json"]
    listed = api.client.get("/v1/tenants", headers=op).json()
    assert {"initech", *TENANTS} <= {t["tenant"] for t in listed}


def test_failed_verification_is_a_report_and_activation_is_refused(api: ApiWorld) -> None:
    op = api.auth(api.operator)
    api.client.post("/v1/tenants", json={"tenant": "hooli"}, headers=op)
    admin = api.client.post("/v1/tenants/hooli/tokens", json={"role": "tenant-admin"},
                            headers=op).json()["token"]  # fmt: skip
    headers = api.auth(admin)
    unconfigured = api.client.post("/v1/tenants/hooli/verify", headers=headers)
    assert unconfigured.status_code == 409 and unconfigured.json()["error"] == "StateError"
    customer = new_customer(api.local_aws, api.vendor_role_arn)
    customer.key_policy()  # no vendor statement at all
    api.client.post("/v1/tenants/hooli/key-configs", headers=headers,
                    json={"mode": "direct", "key_arn": customer.key_arn})  # fmt: skip
    report = api.client.post("/v1/tenants/hooli/verify", headers=headers, json={})
    assert report.status_code == 200
    failed = [c for c in report.json()["checks"] if c["status"] == "failed"]
    assert report.json()["passed"] is False
    assert failed[0]["name"] == "key_reachable" and "key policy" in failed[0]["fix"]
    activate = api.client.post("/v1/tenants/hooli/activate", headers=headers)
    assert activate.status_code == 409
    configs = api.client.get("/v1/tenants/hooli/key-configs", headers=headers).json()
    assert configs[0]["state"] == "FAILED" and configs[0]["verification"]["passed"] is False


def test_audit_export_is_the_tenants_chain_links_only(api: ApiWorld) -> None:
    api.client.put("/v1/tenants/acme/documents/audited.txt", content=b"x",
                   headers=api.as_role("acme", "writer"))  # fmt: skip
    with api.client.stream("GET", "/v1/tenants/acme/audit",
                           headers=api.as_role("acme", "tenant-admin")) as response:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines and {line["tenant"] for line in lines} == {"acme"}
    operations = {line["operation"] for line in lines}
    assert {"tenant:create", "tenant:verify", "document:put", "kms:GenerateDataKey"} <= operations
    stored = list(api.vendor.audit.events(tenant="acme"))
    assert [line["hash"] for line in lines] == [item.hash for item in stored[: len(lines)]]
    assert api.vendor.audit.verify().ok


def test_monitor_probes_and_metrics(api: ApiWorld) -> None:
    monitor = KeyMonitor(api.vendor, interval_s=3600, holder="api-test")
    api.client.app.state.monitor = monitor  # type: ignore[attr-defined]
    try:
        monitor.sweep()
        status = api.client.get("/v1/monitor", headers=api.auth(api.operator)).json()
    finally:
        api.client.app.state.monitor = None  # type: ignore[attr-defined]
        monitor.stop()
    assert status["enabled"] and status["last_sweep_ran"] is True
    assert status["states"]["acme"] == "ACTIVE"
    assert status["tenants_by_state"]["ACTIVE"] >= 2
    assert api.client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    text = api.client.get("/metrics", headers=api.auth(api.operator)).text
    assert 'byok_http_request_duration_seconds_count{method="PUT",' in text
    assert 'route="/v1/tenants/{tenant}/documents/{name:path}"' in text
    assert 'byok_aws_calls_total{operation="kms:GenerateDataKey"}' in text
    assert 'byok_aws_calls_total{operation="kms:DescribeKey"}' in text
    assert "byok_key_cache_entries" in text


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in schema["paths"].items()
            for method, op in item.items()]  # fmt: skip


def test_openapi_documents_every_route_with_models_and_problems(api: ApiWorld) -> None:
    schema = api.client.get("/openapi.json").json()
    assert "bearer" in schema["components"]["securitySchemes"]
    assert "Problem" in schema["components"]["schemas"]
    operations = _operations(schema)
    assert len(operations) >= 20
    for path, method, op in operations:
        assert op.get("summary"), (path, method)
        responses = op["responses"]
        success = [s for s in responses if s.startswith("2")]
        assert success, (path, method)
        if path in ("/healthz", "/readyz", "/openapi.json"):
            continue
        if path.startswith("/v1/key-events/"):  # EventBridge sends the tenant's event key
            assert op.get("security") == [{"eventKey": []}], (path, method)
            continue
        assert op.get("security") == [{"bearer": []}], (path, method)
        for status in ("401", "403"):
            problem = responses[status]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/Problem"}, (path, method, status)
    document_put = schema["paths"]["/v1/tenants/{tenant}/documents/{name}"]["put"]
    assert "application/octet-stream" in document_put["requestBody"]["content"]
    assert "503" in document_put["responses"] and "413" in document_put["responses"]
