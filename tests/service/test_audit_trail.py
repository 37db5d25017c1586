"""Every KMS call byok makes is in its own audit log and in the customer's CloudTrail, one to
one by KMS request id, with the same encryption context; the chain detects tampering."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from sqlalchemy import text

from byok.core.context import tenant_key_context
from support.world import World


@pytest.mark.localaws
def test_audit_kms_events_match_cloudtrail_one_to_one(world: World, local_aws: Any) -> None:
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("acme")
    customer.key_policy(customer.vendor_role_arn, tenant="acme")
    vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    vendor.verify("acme")
    vendor.activate("acme")
    for i in range(5):
        vendor.put_document("acme", f"d{i}", b"x" * 100)
    vendor.envelope.purge_tenant("acme")  # force one more kms:Decrypt
    assert vendor.get_document("acme", "d0").read_all() == b"x" * 100

    ours = {
        item.event.kms_request_id: item.event
        for item in vendor.audit.events("acme")
        if item.event.operation.startswith("kms:")
    }
    trail = {
        event["requestID"]: event
        for event in local_aws.lookup_events(customer.account, resource_name=customer.key_arn)
        if event["userIdentity"]
        .get("arn", "")
        .startswith(f"arn:aws:sts::{world.vendor_account}:assumed-role/")
    }
    assert ours and set(ours) == set(trail)  # one to one, no call missing on either side
    for request_id, event in ours.items():
        record = trail[request_id]
        assert record["eventName"] == event.operation.removeprefix("kms:")
        if event.outcome != "ok":  # verification's other-tenant probe, refused as required
            assert record.get("errorCode") and event.outcome == "KeyAccessDenied"
            assert event.detail["encryption_context"]["byok:tenant"] != "acme"
            continue
        assert record.get("errorCode") is None
        context = (record.get("requestParameters") or {}).get("encryptionContext")
        if event.tk_id is not None:  # TK operations carry the tenant key's context
            assert {k: context[k] for k in ("byok:tenant", "byok:tk")} == tenant_key_context(
                "acme", event.tk_id
            )
            assert event.detail["encryption_context"] == context
            if event.operation in ("kms:GenerateDataKey", "kms:Decrypt"):  # a document TK
                assert context == vendor.tenant_keys.get("acme", event.tk_id).context
                assert context["byok:scope"] == "default" and context["byok:period"]
    assert {e.operation for e in ours.values()} >= {
        "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt",
    }  # fmt: skip


@pytest.mark.localaws
def test_editing_an_audit_row_is_detected_and_export_lines_verify(world: World) -> None:
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("acme")
    customer.key_policy(customer.vendor_role_arn, tenant="acme")
    vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    vendor.verify("acme")
    vendor.activate("acme")
    vendor.put_document("acme", "doc", b"payload")
    assert vendor.audit.verify().ok

    out = io.StringIO()
    summary = vendor.audit.export_jsonl("acme", out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert summary.events == len(lines) > 0
    assert all(line["tenant"] == "acme" for line in lines)
    assert "payload" not in out.getvalue()  # identifiers only, never data

    with vendor.store.write() as session:
        session.execute(text("UPDATE audit_events SET outcome = 'forged' WHERE seq = 3"))
    result = vendor.audit.verify()
    assert not result.ok and result.first_bad_seq == 3
