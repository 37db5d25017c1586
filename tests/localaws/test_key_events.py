"""Key events: the local AWS delivers what the customer's EventBridge would see, in the "AWS API
Call via CloudTrail" shape, to a configured HTTP target (docs/local-aws.md#key-events)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from byok.localaws.event_sink import EventSink
from byok.localaws.pytest_plugin import KeyEvents
from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws


def trust(account: str) -> str:
    return statements(allow(f"arn:aws:iam::{account}:root", "sts:AssumeRole", resource=None))


def _shape(event: dict[str, Any], source: str, account: str, region: str) -> dict[str, Any]:
    assert event["version"] == "0" and event["id"]
    assert event["detail-type"] == "AWS API Call via CloudTrail"
    assert (event["source"], event["account"], event["region"]) == (source, account, region)
    assert event["time"].endswith("Z")
    detail: dict[str, Any] = event["detail"]
    assert detail["eventSource"] == source.replace("aws.", "") + ".amazonaws.com"
    assert detail["recipientAccountId"] == account and detail["eventType"] == "AwsApiCall"
    return detail


def test_key_lifecycle_events_reach_the_target(
    local_aws: LocalAws, customer: str, key_arn: str, key_events: KeyEvents
) -> None:
    key_events.watch(customer)
    kms = local_aws.client("kms", customer)
    kms.put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(allow(f"arn:aws:iam::{customer}:root", "kms:*")),
    )
    kms.disable_key(KeyId=key_arn)
    kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    for name in ("PutKeyPolicy", "DisableKey", "ScheduleKeyDeletion"):
        detail = _shape(key_events.sink.wait_for(name), "aws.kms", customer, "us-east-1")
        assert detail["resources"] == [
            {"accountId": customer, "type": "AWS::KMS::Key", "ARN": key_arn}
        ]
        assert detail["requestParameters"]["keyId"] == key_arn
    scheduled = key_events.sink.wait_for("ScheduleKeyDeletion")["detail"]
    assert scheduled["requestParameters"]["pendingWindowInDays"] == 7


def test_read_only_calls_and_other_accounts_are_not_delivered(
    local_aws: LocalAws, customer: str, key_arn: str, key_events: KeyEvents
) -> None:
    key_events.watch(customer)
    other = local_aws.new_account()
    local_aws.client("kms", customer).describe_key(KeyId=key_arn)  # read-only: not delivered
    local_aws.client("kms", other).create_key()  # another account: not this target's
    local_aws.client("kms", customer).disable_key(KeyId=key_arn)
    key_events.sink.wait_for("DisableKey")
    names = [(e["account"], e["detail"]["eventName"]) for e in key_events.sink.events]
    assert names == [(customer, "DisableKey")]


def test_role_changes_are_delivered_as_iam_events(
    local_aws: LocalAws, customer: str, vendor: str, key_events: KeyEvents
) -> None:
    key_events.watch(customer)
    role_arn = local_aws.make_role(customer, "byok-access", trust(vendor))
    iam = local_aws.client("iam", customer)
    document = statements({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})
    iam.put_role_policy(RoleName="byok-access", PolicyName="use-key", PolicyDocument=document)
    managed = iam.create_policy(PolicyName="managed", PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="byok-access", PolicyArn=managed)
    iam.detach_role_policy(RoleName="byok-access", PolicyArn=managed)
    iam.update_assume_role_policy(RoleName="byok-access", PolicyDocument=trust(customer))
    iam.delete_role_policy(RoleName="byok-access", PolicyName="use-key")
    iam.delete_role(RoleName="byok-access")
    for name in (
        "PutRolePolicy",
        "DetachRolePolicy",
        "UpdateAssumeRolePolicy",
        "DeleteRolePolicy",
        "DeleteRole",
    ):
        detail = _shape(key_events.sink.wait_for(name), "aws.iam", customer, "us-east-1")
        assert detail["requestParameters"]["roleName"] == "byok-access"
        assert detail["resources"] == [
            {"accountId": customer, "type": "AWS::IAM::Role", "ARN": role_arn}
        ]
    detached = key_events.sink.wait_for("DetachRolePolicy")["detail"]
    assert detached["requestParameters"]["policyArn"] == managed
    # The same changes are in the account's CloudTrail, as in AWS (IAM events in us-east-1).
    assert local_aws.lookup_events(customer, event_name="DeleteRole")[0]["eventName"] == (
        "DeleteRole"
    )


def test_refused_changes_are_delivered_with_their_error(
    local_aws: LocalAws, customer: str, key_events: KeyEvents
) -> None:
    key_events.watch(customer, ("DeleteRole",))
    with pytest.raises(Exception, match="NoSuchEntity"):
        local_aws.client("iam", customer).delete_role(RoleName="no-such-role")
    detail = key_events.sink.wait_for("DeleteRole")["detail"]
    assert detail["errorCode"] == "NoSuchEntity"


def test_event_name_filter_and_target_removal(
    local_aws: LocalAws, customer: str, key_arn: str, key_events: KeyEvents
) -> None:
    key_events.watch(customer, ("ScheduleKeyDeletion",))
    kms = local_aws.client("kms", customer)
    kms.disable_key(KeyId=key_arn)
    kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    key_events.sink.wait_for("ScheduleKeyDeletion")
    assert [e["detail"]["eventName"] for e in key_events.sink.events] == ["ScheduleKeyDeletion"]
    local_aws.remove_event_target(key_events.target_ids.pop())
    kms.cancel_key_deletion(KeyId=key_arn)
    kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    assert len(key_events.sink.events) == 1


def test_a_failing_target_is_retried(
    local_aws: LocalAws, customer: str, key_arn: str, key_events: KeyEvents
) -> None:
    key_events.sink.fail_next(2)  # two 503s, then the third attempt is accepted
    key_events.watch(customer)
    local_aws.client("kms", customer).disable_key(KeyId=key_arn)
    event = key_events.sink.wait_for("DisableKey")
    outcome = _delivery(local_aws, event["id"])
    assert (outcome["attempts"], outcome["status"], outcome["error"]) == (3, 200, "")


def test_an_unreachable_target_does_not_block_the_api(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    with EventSink() as sink:
        url = sink.url
    target = local_aws.add_event_target(url, account=customer)  # nothing listens there now
    try:
        local_aws.client("kms", customer).disable_key(KeyId=key_arn)
        local_aws.client("kms", customer).enable_key(KeyId=key_arn)  # answered at once
    finally:
        local_aws.remove_event_target(target)


@pytest.mark.parametrize(
    "spec",
    [
        {"url": "ftp://x"},
        {"url": "http://127.0.0.1:1/x", "account": "12"},
        {"url": "http://127.0.0.1:1/x", "event_names": "DisableKey"},
        {"url": "http://127.0.0.1:1/x", "extra": 1},
        [],
    ],
)
def test_malformed_targets_are_refused(local_aws: LocalAws, spec: Any) -> None:
    request = urllib.request.Request(
        f"{local_aws.endpoint_url}/_byok/event-targets",
        data=json.dumps(spec).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=10)
    assert exc.value.code == 400
    assert "error" in json.loads(exc.value.read())


def _delivery(local_aws: LocalAws, event_id: str) -> dict[str, Any]:
    """The outcome of one delivery (recorded just after the receiver answered)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [d for d in local_aws.event_deliveries() if d["event_id"] == event_id]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no delivery outcome for event {event_id}")
