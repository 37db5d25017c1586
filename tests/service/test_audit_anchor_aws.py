"""Audit heads anchored in the customer's CloudTrail catch a rewritten or truncated export.

The vendor (or whoever writes its database) rewrites an event of the tenant and recomputes
the whole chain, so the vendor's own ``audit verify`` still passes; or it hands over a
truncated export. The customer, with only its own AWS credentials (CloudTrail) and the
export, finds both. Runs over the local AWS on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from byok.aws.clients import StaticCredentials
from byok.cli.main import app
from byok.core.audit_chain import GENESIS_HASH, AuditEvent, chain_hash
from byok.customer.audit_verify import verify_audit_export
from byok.customer.aws import CustomerAws
from byok.service.audit_anchor import AuditAnchorer
from byok.store.audit import _chained
from byok.store.schema import AuditEventRow
from support.world import World

pytestmark = pytest.mark.localaws


def _onboarded(world: World) -> AuditAnchorer:
    vendor, customer = world.vendor, world.customer
    vendor.create_tenant("acme")
    customer.key_policy(customer.vendor_role_arn, tenant="acme")
    vendor.submit_config("acme", mode="direct", key_arn=customer.key_arn)
    vendor.verify("acme")
    vendor.activate("acme")
    return AuditAnchorer(vendor)


def _export(world: World, path: Path) -> Path:
    out = io.StringIO()
    world.vendor.audit.export_jsonl("acme", out)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _customer_aws(local_aws: Any, account: str) -> CustomerAws:
    return CustomerAws.connect(
        endpoint_url=local_aws.endpoint_url,
        credentials=StaticCredentials(f"ROOT{account}", "secret"),
    )


def _recompute_chain(world: World) -> None:
    """The attacker's step: recompute every hash so the vendor's own verify passes."""
    with world.vendor.store.write() as session:
        rows = session.query(AuditEventRow).order_by(AuditEventRow.seq).all()
        previous = GENESIS_HASH
        for row in rows:
            event: AuditEvent = _chained(row).event
            row.prev_hash, row.hash = previous, chain_hash(previous, event)
            previous = row.hash
        session.execute(text("UPDATE audit_chain_head SET last_hash = :h"), {"h": previous})


def test_anchor_lands_in_the_customers_cloudtrail(world: World, local_aws: Any) -> None:
    anchorer = _onboarded(world)
    world.vendor.put_document("acme", "a", b"1")
    result = anchorer.anchor("acme")
    assert result.anchored and result.request_id
    assert not anchorer.anchor("acme").anchored  # nothing new: no KMS call
    events = local_aws.lookup_events(world.customer.account, resource_name=world.customer.key_arn)
    [record] = [e for e in events if e["requestID"] == result.request_id]
    context = record["requestParameters"]["encryptionContext"]
    assert record["eventName"] == "Encrypt" and record.get("errorCode") is None
    assert context == {
        "byok:tenant": "acme", "byok:audit-seq": str(result.seq), "byok:audit-head": result.head,
    }  # fmt: skip
    recorded = [e.event for e in world.vendor.audit.events("acme")]
    assert recorded[-1].operation == "audit:anchor"
    assert recorded[-1].kms_request_id == result.request_id


def test_customer_verifies_an_honest_export(world: World, local_aws: Any, tmp_path: Path) -> None:
    anchorer = _onboarded(world)
    for i in range(3):
        world.vendor.put_document("acme", f"d{i}", b"x" * 10)
        anchorer.anchor("acme")
    export = _export(world, tmp_path / "acme.jsonl")
    aws = _customer_aws(local_aws, world.customer.account)
    since = datetime.now(UTC) - timedelta(hours=1)
    result = verify_audit_export(aws, world.customer.key_arn, export, tenant=None, since=since)
    assert result.ok and result.check.anchors_matched == 3 and len(result.anchors) == 3
    assert result.check.unanchored_events == 1  # the last anchor's own audit record


def test_a_rewrite_with_a_recomputed_chain_is_caught(
    world: World, local_aws: Any, tmp_path: Path
) -> None:
    anchorer = _onboarded(world)
    world.vendor.put_document("acme", "secret-plan", b"x")
    world.vendor.get_document("acme", "secret-plan").read_all()
    anchorer.anchor("acme")
    with world.vendor.store.write() as session:  # hide that the document was read
        session.execute(
            text("UPDATE audit_events SET document = 'other' WHERE operation = 'document:get'")
        )
    _recompute_chain(world)
    assert world.vendor.audit.verify().ok  # the vendor's own check is fooled
    export = _export(world, tmp_path / "acme.jsonl")
    aws = _customer_aws(local_aws, world.customer.account)
    since = datetime.now(UTC) - timedelta(hours=1)
    result = verify_audit_export(aws, world.customer.key_arn, export, tenant="acme", since=since)
    assert not result.ok and "rewritten" in (result.reason or "")
    assert result.check.first_bad_seq is not None


def test_a_truncated_export_is_caught_through_the_cli(
    world: World, local_aws: Any, tmp_path: Path
) -> None:
    anchorer = _onboarded(world)
    world.vendor.put_document("acme", "a", b"x")
    anchorer.anchor("acme")
    export = _export(world, tmp_path / "acme.jsonl")
    lines = export.read_text().splitlines()
    export.write_text("\n".join(lines[:-3]) + "\n")  # drop the tail
    env = {
        "AWS_ACCESS_KEY_ID": f"ROOT{world.customer.account}",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "BYOK_AWS_ENDPOINT_URL": local_aws.endpoint_url,
    }
    args = ["customer", "activity", "--key-arn", world.customer.key_arn, "--since", "1h"]
    result = CliRunner().invoke(app, [*args, "--verify-audit", str(export), "--json"], env=env)
    assert result.exit_code == 30, result.output
    report = json.loads(result.output)
    assert report["ok"] is False and "truncated" in report["reason"]
    assert report["anchors_found"] == 1

    export.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, [*args, "--verify-audit", str(export)], env=env)
    assert result.exit_code == 0 and "matches your CloudTrail" in result.output


def test_no_anchor_in_cloudtrail_is_not_a_pass(
    world: World, local_aws: Any, tmp_path: Path
) -> None:
    _onboarded(world)
    export = _export(world, tmp_path / "acme.jsonl")
    aws = _customer_aws(local_aws, world.customer.account)
    since = datetime.now(UTC) - timedelta(hours=1)
    result = verify_audit_export(aws, world.customer.key_arn, export, tenant="acme", since=since)
    assert result.check.ok and not result.ok and "no audit anchor" in (result.reason or "")


def test_the_monitor_anchors_serving_tenants_at_its_interval(world: World) -> None:
    from byok.service.monitor import KeyMonitor

    _onboarded(world)
    monitor = KeyMonitor(world.vendor, interval_s=60)
    monitor.sweep()
    anchors = [
        e.event for e in world.vendor.audit.events("acme") if e.event.operation == "audit:anchor"
    ]
    assert len(anchors) == 1 and anchors[0].outcome == "ok"
    monitor.sweep()  # not due again within the interval
    again = [e for e in world.vendor.audit.events("acme") if e.event.operation == "audit:anchor"]
    assert len(again) == 1
