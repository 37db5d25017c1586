"""The accounts convention: ROOT keys, identities made by AWS calls, unknown keys refused."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import datetime

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of, status_of

from byok.localaws.server import LocalAwsServer
from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws


def test_root_key_is_the_accounts_root_user(local_aws: LocalAws, customer: str) -> None:
    identity = local_aws.client("sts", customer).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{customer}:root"
    assert identity["Account"] == customer
    assert identity["UserId"] == customer


def test_root_keys_of_two_accounts_see_separate_state(
    local_aws: LocalAws, customer: str, vendor: str
) -> None:
    key = local_aws.create_key(customer)
    mine = [k["KeyArn"] for k in local_aws.client("kms", customer).list_keys()["Keys"]]
    theirs = [k["KeyArn"] for k in local_aws.client("kms", vendor).list_keys()["Keys"]]
    assert key in mine
    assert key not in theirs
    assert key.split(":")[4] == customer


def test_iam_user_key_acts_as_that_user(local_aws: LocalAws, customer: str) -> None:
    arn, creds = local_aws.make_user(customer, "alice")
    identity = local_aws.client("sts", creds).get_caller_identity()
    assert identity["Arn"] == arn == f"arn:aws:iam::{customer}:user/alice"
    assert identity["Account"] == customer


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("kms", "list_keys", "UnrecognizedClientException", 400),
        ("sts", "get_caller_identity", "InvalidClientTokenId", 403),
        ("iam", "list_users", "InvalidClientTokenId", 403),
    ],
)
def test_unknown_access_key_is_refused(
    local_aws: LocalAws, service: str, call: str, code: str, status: int
) -> None:
    client = local_aws.client(
        service, {"AccessKeyId": "AKIANOTAREALKEY00000", "SecretAccessKey": "x"}
    )
    with pytest.raises(ClientError) as exc:
        getattr(client, call)()
    assert code_of(exc) == code
    assert status_of(exc) == status


def test_deactivated_user_key_is_refused(local_aws: LocalAws, customer: str) -> None:
    _, creds = local_aws.make_user(customer, "bob")
    sts = local_aws.client("sts", creds)
    assert sts.get_caller_identity()["Account"] == customer
    local_aws.client("iam", customer).update_access_key(
        UserName="bob", AccessKeyId=creds["AccessKeyId"], Status="Inactive"
    )
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert code_of(exc) == "InvalidClientTokenId"


def test_client_cannot_pick_its_account_with_moto_header(
    local_aws: LocalAws, customer: str, vendor: str
) -> None:
    key = local_aws.create_key(customer)
    kms = local_aws.client("kms", vendor)

    def spoof(request: object, **_: object) -> None:
        request.headers["x-moto-account-id"] = customer  # type: ignore[attr-defined]

    kms.meta.events.register("before-sign.kms.ListKeys", spoof)
    try:
        listed = [k["KeyArn"] for k in kms.list_keys()["Keys"]]
    finally:
        kms.meta.events.unregister("before-sign.kms.ListKeys", spoof)
    assert key not in listed


def test_expired_session_credentials_are_refused() -> None:
    from moto.sts.models import sts_backends

    with LocalAwsServer() as server:  # in-process: the test ages the session inside moto
        aws = LocalAws(server.endpoint_url)
        account = aws.new_account()
        role = aws.make_role(
            account,
            "r",
            statements(allow(f"arn:aws:iam::{account}:root", "sts:AssumeRole", resource=None)),
        )
        fresh, stale = aws.assume(account, role), aws.assume(account, role)
        for session in sts_backends[account]["aws"].assumed_roles:
            if session.access_key_id == stale["AccessKeyId"]:
                session.expiration = datetime(2000, 1, 1)
        assert aws.client("sts", fresh).get_caller_identity()["Account"] == account
        with pytest.raises(ClientError) as exc:
            aws.client("sts", stale).get_caller_identity()
        assert (code_of(exc), status_of(exc)) == ("ExpiredToken", 403)
        with pytest.raises(ClientError) as exc:
            aws.client("kms", stale).list_keys()
        assert code_of(exc) == "ExpiredTokenException"


@pytest.mark.parametrize(
    ("headers", "body", "code", "status"),
    [
        (
            {"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"},
            b"{}",
            "MissingAuthenticationTokenException",
            400,
        ),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"Action=GetCallerIdentity&Version=2011-06-15",
            "MissingAuthenticationToken",
            403,
        ),
    ],
)
def test_unsigned_api_calls_are_refused(
    local_aws: LocalAws, headers: dict[str, str], body: bytes, code: str, status: int
) -> None:
    request = urllib.request.Request(
        local_aws.endpoint_url + "/", data=body, headers=headers, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=10)
    assert exc.value.code == status
    assert code.encode() in exc.value.read()
