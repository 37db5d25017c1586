"""The CloudTrail-like event log, read with cloudtrail:LookupEvents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of

from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws


def share(local_aws: LocalAws, customer: str, key_arn: str, principal: str) -> None:
    local_aws.client("kms", customer).put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(
            allow(f"arn:aws:iam::{customer}:root", "kms:*"),
            allow(principal, ["kms:GenerateDataKey", "kms:Decrypt"]),
        ),
    )


def test_success_and_refusal_recorded_with_the_returned_request_ids(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    share(local_aws, customer, key_arn, f"arn:aws:iam::{vendor}:root")
    kms = local_aws.client("kms", vendor)
    made = kms.generate_data_key(
        KeyId=key_arn, KeySpec="AES_256", EncryptionContext={"tenant": "acme", "tk": "1"}
    )
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_arn, Plaintext=b"x")
    events = local_aws.lookup_events(customer, resource_name=key_arn)
    by_name = {e["eventName"]: e for e in events}
    ok, refused = by_name["GenerateDataKey"], by_name["Encrypt"]
    assert ok["requestID"] == made["ResponseMetadata"]["RequestId"]
    assert refused["requestID"] == exc.value.response["ResponseMetadata"]["RequestId"]
    assert refused["errorCode"] == "AccessDeniedException" and "errorCode" not in ok
    assert ok["eventSource"] == "kms.amazonaws.com"
    assert ok["recipientAccountId"] == customer
    assert ok["resources"] == [{"accountId": customer, "type": "AWS::KMS::Key", "ARN": key_arn}]
    assert ok["requestParameters"]["encryptionContext"] == {"tenant": "acme", "tk": "1"}
    assert ok["userIdentity"]["arn"] == f"arn:aws:iam::{vendor}:root"
    assert ok["userIdentity"]["accountId"] == vendor
    assert ok["userIdentity"]["type"] == "Root"


def test_assumed_role_identity_names_the_session_issuer(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    role = local_aws.make_role(
        vendor,
        "svc",
        statements(allow(f"arn:aws:iam::{vendor}:root", "sts:AssumeRole", resource=None)),
        {"kms": statements({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})},
    )
    share(local_aws, customer, key_arn, role)
    session = local_aws.assume(vendor, role, session_name="tenant-acme")
    local_aws.client("kms", session).generate_data_key(KeyId=key_arn, KeySpec="AES_256")
    (event,) = local_aws.lookup_events(customer, event_name="GenerateDataKey")
    identity = event["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{vendor}:assumed-role/svc/tenant-acme"
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role
    assert identity["accessKeyId"] == session["AccessKeyId"]
    assert local_aws.lookup_events(customer, username="tenant-acme")[0]["eventName"] == (
        "GenerateDataKey"
    )
    # the caller's account records the call too, with its own recipient account id
    (mine,) = local_aws.lookup_events(vendor, event_name="GenerateDataKey")
    assert mine["recipientAccountId"] == vendor and mine["requestID"] == event["requestID"]


def test_newest_first_time_window_and_pagination(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    kms = local_aws.client("kms", customer)
    ids = [
        kms.encrypt(KeyId=key_arn, Plaintext=b"x")["ResponseMetadata"]["RequestId"]
        for _ in range(55)
    ]
    events = local_aws.lookup_events(customer, event_name="Encrypt")
    assert [e["requestID"] for e in events] == ids[::-1]  # 2 pages of at most 50
    now = datetime.now(UTC)
    assert (
        local_aws.lookup_events(
            customer, event_name="Encrypt", start_time=now + timedelta(minutes=5)
        )
        == []
    )
    assert (
        len(
            local_aws.lookup_events(
                customer,
                event_name="Encrypt",
                start_time=now - timedelta(minutes=5),
                end_time=now + timedelta(minutes=5),
            )
        )
        == 55
    )
    summary = local_aws.client("cloudtrail", customer).lookup_events(MaxResults=1)["Events"][0]
    assert json.loads(summary["CloudTrailEvent"])["requestID"] == ids[-1]
    assert summary["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": key_arn}]


def test_events_are_visible_only_to_the_accounts_involved(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    local_aws.client("kms", customer).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert local_aws.lookup_events(customer, event_name="Encrypt")
    assert local_aws.lookup_events(local_aws.new_account()) == []
    assert local_aws.lookup_events(customer, region="eu-west-1") == []


def test_lookup_allows_one_attribute_only(local_aws: LocalAws, customer: str) -> None:
    with pytest.raises(ClientError) as exc:
        local_aws.client("cloudtrail", customer).lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "Decrypt"},
                {"AttributeKey": "Username", "AttributeValue": "root"},
            ]
        )
    assert code_of(exc) == "InvalidLookupAttributesException"


def test_assume_role_recorded_in_the_roles_account(
    local_aws: LocalAws, customer: str, vendor: str
) -> None:
    role = local_aws.make_role(
        customer,
        "r",
        statements(
            allow(
                f"arn:aws:iam::{vendor}:root",
                "sts:AssumeRole",
                resource=None,
                condition={"StringEquals": {"sts:ExternalId": "x-1"}},
            )
        ),
    )
    local_aws.assume(vendor, role, external_id="x-1")
    with pytest.raises(ClientError) as exc:
        local_aws.assume(vendor, role)
    events = local_aws.lookup_events(customer, event_name="AssumeRole")
    assert [e.get("errorCode") for e in events] == ["AccessDenied", None]
    assert events[0]["requestID"] == exc.value.response["ResponseMetadata"]["RequestId"]
    assert events[1]["eventSource"] == "sts.amazonaws.com"
    assert events[1]["requestParameters"]["externalId"] == "x-1"
    assert events[1]["resources"][0]["ARN"] == role


def test_event_of_this_second_is_inside_end_time_now(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    # botocore sends EndTime in whole seconds; CloudTrail event times are whole seconds too.
    request_id = local_aws.client("kms", customer).encrypt(KeyId=key_arn, Plaintext=b"x")[
        "ResponseMetadata"
    ]["RequestId"]
    found = local_aws.lookup_events(customer, event_name="Encrypt", end_time=datetime.now(UTC))
    assert [e["requestID"] for e in found] == [request_id]
    assert found[0]["eventTime"].endswith("Z") and len(found[0]["eventTime"]) == 20
