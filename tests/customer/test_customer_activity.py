"""``byok customer activity``: parsing and grouping (pure), then real CloudTrail events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_world import STORAGE_ROLE, Vendor, setup_for, vendor_kms, vendor_round_trip

from byok.customer.activity import (
    NO_CONTEXT,
    NOT_STATED,
    KeyUse,
    key_activity,
    parse_event,
    parse_since,
    summarize,
    vendor_filter,
)
from byok.customer.aws import CustomerAws
from byok.customer.setup import run_setup
from byok.errors import InvalidInput

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _record(
    name: str,
    minute: int,
    *,
    tenant: str | None = "acme",
    error: str | None = None,
    account: str = "444455556666",
    role: str = "customer-facing-role",
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventName": name,
        "eventTime": f"2026-11-29T11:{minute:02d}:00Z",
        "requestID": f"req-{minute}",
        "userIdentity": {
            "type": "AssumedRole",
            "accountId": account,
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/s",
            "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::{account}:role/{role}"}},
        },
        "requestParameters": {"keyId": KEY},
    }
    if tenant is not None:
        record["requestParameters"]["encryptionContext"] = {
            "byok:tenant": tenant,
            "byok:tk": "tk-1",
        }
    if error:
        record["errorCode"] = error
    return record


def test_parse_event_reads_caller_context_and_error() -> None:
    use = parse_event(_record("Decrypt", 5, error="AccessDeniedException"))
    assert use == KeyUse(
        time=datetime(2026, 11, 29, 11, 5, tzinfo=UTC),
        operation="Decrypt",
        caller="arn:aws:sts::444455556666:assumed-role/customer-facing-role/s",
        caller_account="444455556666",
        role_arn="arn:aws:iam::444455556666:role/customer-facing-role",
        tenant="acme",
        error="AccessDeniedException",
        request_id="req-5",
    )


def test_parse_event_survives_a_sparse_record() -> None:
    use = parse_event({"eventName": "DescribeKey"})
    assert (use.operation, use.tenant, use.error, use.caller) == ("DescribeKey", None, None, "")
    assert use.time == datetime.fromtimestamp(0, UTC)


def test_reencrypt_is_attributed_by_its_destination_context() -> None:
    record = _record("ReEncrypt", 1, tenant=None)
    record["requestParameters"]["destinationEncryptionContext"] = {"byok:tenant": "beta"}
    assert parse_event(record).tenant == "beta"


def test_summarize_groups_by_operation_tenant_and_caller() -> None:
    uses = [
        parse_event(r)
        for r in (
            _record("GenerateDataKey", 1),
            _record("Decrypt", 2),
            _record("Decrypt", 3),
            _record("Decrypt", 4, error="AccessDeniedException"),
            _record("DescribeKey", 5, tenant=None),
            _record("Decrypt", 6, tenant="beta"),
        )
    ]
    report = summarize(KEY, NOW - timedelta(hours=1), uses)

    assert [(g.name, g.count, g.errors) for g in report.by_operation] == [
        ("Decrypt", 4, 1),
        ("DescribeKey", 1, 0),
        ("GenerateDataKey", 1, 0),
    ]
    assert [(g.name, g.count) for g in report.by_tenant] == [
        ("acme", 4),
        (NO_CONTEXT, 1),
        ("beta", 1),
    ]  # ties by name
    decrypt = report.by_operation[0]
    assert decrypt.last == datetime(2026, 11, 29, 11, 6, tzinfo=UTC)
    assert [u.request_id for u in report.uses][:2] == ["req-6", "req-5"]  # newest first
    as_json = report.to_dict()
    assert as_json["total"] == 6 and as_json["errors"] == 1
    assert as_json["by_operation"][0] == {
        "name": "Decrypt",
        "count": 4,
        "errors": 1,
        "last": "2026-11-29T11:06:00Z",
    }


def test_summarize_groups_by_the_reason_and_scope_the_vendor_stated() -> None:
    records = []
    for minute, (reason, scope, error) in enumerate(
        [("customer-request", "default", None), ("vendor-support", "legal", "AccessDenied"),
         ("vendor-support", "default", "AccessDenied"), ("vendor-service", "legal", None)]
    ):  # fmt: skip
        record = _record("Decrypt", minute, error=error)
        record["requestParameters"]["encryptionContext"] |= {
            "byok:reason": reason, "byok:scope": scope,
        }  # fmt: skip
        records.append(record)
    records.append(_record("Decrypt", 9))  # a key made before reasons
    report = summarize(KEY, NOW - timedelta(hours=1), [parse_event(r) for r in records])
    assert [(g.name, g.count, g.errors) for g in report.by_reason] == [
        ("vendor-support", 2, 2), (NOT_STATED, 1, 0), ("customer-request", 1, 0),
        ("vendor-service", 1, 0),
    ]  # fmt: skip
    assert [(g.name, g.count, g.errors) for g in report.by_scope] == [
        ("default", 2, 1), ("legal", 2, 1), (NOT_STATED, 1, 0),
    ]  # fmt: skip
    assert report.to_dict()["uses"][-1]["reason"] == "customer-request"


def test_vendor_filter_keeps_the_vendor_account_or_the_client_role() -> None:
    mine = parse_event(_record("PutKeyPolicy", 1, account="111122223333", role="Admin"))
    direct = parse_event(_record("Decrypt", 2))
    chained = parse_event(_record("Decrypt", 3, account="111122223333", role="byok-client-role"))
    by_vendor = vendor_filter("444455556666", None)
    by_role = vendor_filter(None, "arn:aws:iam::111122223333:role/byok-client-role")
    assert [by_vendor(u) for u in (mine, direct, chained)] == [False, True, False]
    assert [by_role(u) for u in (mine, direct, chained)] == [False, False, True]
    assert all(vendor_filter(None, None)(u) for u in (mine, direct, chained))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("2026-11-28T09:00:00Z", datetime(2026, 11, 28, 9, tzinfo=UTC)),
        ("2026-11-28T09:00:00", datetime(2026, 11, 28, 9, tzinfo=UTC)),
    ],
)
def test_parse_since(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "91d", "2027-01-01T00:00:00Z", "-5h", ""])
def test_parse_since_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_since(text, NOW)
    assert caught.value.field == "since" and "90d" in caught.value.fix


@pytest.mark.localaws
@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_activity_shows_the_vendors_calls(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws, mode: str
) -> None:
    setup = run_setup(aws, vendor.identity, setup_for(account, mode))
    assert setup.key_arn is not None
    vendor_round_trip(local_aws, vendor, setup.handover)
    vendor_round_trip(local_aws, vendor, setup.handover)
    kms = vendor_kms(local_aws, vendor, setup.handover)
    kms.describe_key(KeyId=setup.key_arn)
    with pytest.raises(Exception, match="AccessDenied"):  # not one of the five actions
        kms.create_grant(
            KeyId=setup.key_arn,
            Operations=["Decrypt"],
            GranteePrincipal=f"arn:aws:iam::{vendor.account}:root",
        )

    report = key_activity(
        aws,
        setup.key_arn,
        since=timedelta(hours=1),
        vendor_account=vendor.account if mode == "direct" else None,
        client_role_arn=setup.client_role_arn,
    )
    counts = {g.name: (g.count, g.errors) for g in report.by_operation}
    assert counts == {
        "GenerateDataKey": (2, 0),
        "Decrypt": (2, 0),
        "DescribeKey": (1, 0),
        "CreateGrant": (1, 1),
    }
    assert {g.name: g.count for g in report.by_tenant} == {"acme": 4, NO_CONTEXT: 2}
    callers = [g.name for g in report.by_caller]
    expected_role = (
        vendor.identity.role_arn("direct") if mode == "direct" else setup.client_role_arn
    )
    assert callers == [expected_role]
    assert all(u.request_id for u in report.uses)
    # The customer's own set-up calls on the key are not the vendor's.
    everything = key_activity(aws, setup.key_arn, since=timedelta(hours=1))
    assert {"CreateKey", "PutKeyPolicy"} <= {g.name for g in everything.by_operation}


@pytest.mark.localaws
def test_activity_respects_the_start_time(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    setup = run_setup(aws, vendor.identity, setup_for(account, "direct"))
    assert setup.key_arn is not None
    vendor_round_trip(local_aws, vendor, setup.handover)
    later = datetime.now(UTC) + timedelta(seconds=2)
    report = key_activity(aws, setup.key_arn, since=later, now=lambda: later + timedelta(minutes=1))
    assert report.uses == ()


@pytest.mark.localaws
def test_activity_pages_through_many_events(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    setup = run_setup(aws, vendor.identity, setup_for(account, "assume-role"))
    assert setup.key_arn is not None
    kms = vendor_kms(local_aws, vendor, setup.handover)
    for _ in range(60):
        kms.describe_key(KeyId=setup.key_arn)
    report = key_activity(
        aws, setup.key_arn, since=timedelta(hours=1), client_role_arn=setup.client_role_arn
    )
    assert report.by_operation[0].name == "DescribeKey"
    assert report.by_operation[0].count == 60  # more than one LookupEvents page of 50
    limited = key_activity(aws, setup.key_arn, since=timedelta(hours=1), max_events=10)
    assert len(limited.uses) == 10
    assert STORAGE_ROLE not in {u.role_arn for u in report.uses}
