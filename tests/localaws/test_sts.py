"""sts:AssumeRole: trust policies, External IDs, cross-account identity policies, chaining."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of, status_of

from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws

EXTERNAL_ID = "tenant-acme-6f1c2d"


def trust(principal: str, external_id: str | None = EXTERNAL_ID) -> str:
    condition = None if external_id is None else {"StringEquals": {"sts:ExternalId": external_id}}
    return statements(allow(principal, "sts:AssumeRole", resource=None, condition=condition))


def assume_policy(resource: str = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": resource}],
    }


@pytest.fixture
def vendor_session(local_aws: LocalAws, vendor: str) -> dict[str, str]:
    """A session of the vendor's document-storage-role (allowed to assume any role)."""
    arn = local_aws.make_role(
        vendor,
        "document-storage-role",
        statements(allow(f"arn:aws:iam::{vendor}:root", "sts:AssumeRole")),
        {"assume": assume_policy("arn:aws:iam::*:role/*")},
    )
    return {"arn": arn, **local_aws.assume(vendor, arn, session_name="service")}


@pytest.fixture
def client_role(local_aws: LocalAws, customer: str, vendor_session: dict[str, str]) -> str:
    return local_aws.make_role(customer, "client-role", trust(vendor_session["arn"]))


def denied(exc: pytest.ExceptionInfo[ClientError], caller: str, role: str) -> bool:
    return (
        code_of(exc) == "AccessDenied"
        and status_of(exc) == 403
        and exc.value.response["Error"]["Message"]
        == (f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role}")
    )


def test_right_external_id_is_accepted(
    local_aws: LocalAws, customer: str, vendor_session: dict[str, str], client_role: str
) -> None:
    creds = local_aws.assume(
        vendor_session, client_role, external_id=EXTERNAL_ID, session_name="tenant-acme"
    )
    identity = local_aws.client("sts", creds).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{customer}:assumed-role/client-role/tenant-acme"
    assert identity["Account"] == customer


@pytest.mark.parametrize("external_id", ["wrong-id", None])
def test_wrong_or_missing_external_id_is_denied(
    local_aws: LocalAws,
    vendor: str,
    vendor_session: dict[str, str],
    client_role: str,
    external_id: str | None,
) -> None:
    with pytest.raises(ClientError) as exc:
        local_aws.assume(vendor_session, client_role, external_id=external_id)
    caller = f"arn:aws:sts::{vendor}:assumed-role/document-storage-role/service"
    assert denied(exc, caller, client_role)


def test_unlisted_principal_is_denied(local_aws: LocalAws, vendor: str, client_role: str) -> None:
    other = local_aws.make_role(
        vendor,
        "other-role",
        statements(allow(f"arn:aws:iam::{vendor}:root", "sts:AssumeRole")),
        {"assume": assume_policy()},
    )
    session = local_aws.assume(vendor, other)
    with pytest.raises(ClientError) as exc:
        local_aws.assume(session, client_role, external_id=EXTERNAL_ID)
    assert code_of(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # the vendor's root is not the named role either
        local_aws.assume(vendor, client_role, external_id=EXTERNAL_ID)
    assert code_of(exc) == "AccessDenied"


def test_role_that_does_not_exist_is_denied(
    local_aws: LocalAws, customer: str, vendor: str
) -> None:
    role = f"arn:aws:iam::{customer}:role/no-such-role"
    with pytest.raises(ClientError) as exc:
        local_aws.assume(vendor, role)
    assert denied(exc, f"arn:aws:iam::{vendor}:root", role)


def test_deleted_role_is_denied(
    local_aws: LocalAws, customer: str, vendor_session: dict[str, str], client_role: str
) -> None:
    local_aws.client("iam", customer).delete_role(RoleName="client-role")
    with pytest.raises(ClientError) as exc:
        local_aws.assume(vendor_session, client_role, external_id=EXTERNAL_ID)
    assert code_of(exc) == "AccessDenied"


def test_cross_account_caller_needs_an_identity_policy(
    local_aws: LocalAws, customer: str, vendor: str
) -> None:
    user_arn, creds = local_aws.make_user(vendor, "deployer")
    role = local_aws.make_role(customer, "for-user", trust(user_arn, None))
    with pytest.raises(ClientError) as exc:
        local_aws.assume(creds, role)
    assert denied(exc, user_arn, role)
    local_aws.client("iam", vendor).put_user_policy(
        UserName="deployer",
        PolicyName="assume",
        PolicyDocument=statements(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}
        ),
    )
    assert local_aws.assume(creds, role)["AccessKeyId"]


def test_account_root_principal_trusts_the_other_accounts_root(
    local_aws: LocalAws, customer: str, vendor: str
) -> None:
    role = local_aws.make_role(customer, "by-account", trust(f"arn:aws:iam::{vendor}:root", None))
    creds = local_aws.assume(vendor, role)  # the root user needs no identity policy
    assert local_aws.client("sts", creds).get_caller_identity()["Account"] == customer


def test_chained_session_carries_the_right_identity_and_one_hour_limit(
    local_aws: LocalAws,
    customer: str,
    vendor: str,
    vendor_session: dict[str, str],
    client_role: str,
) -> None:
    assert local_aws.client("sts", vendor_session).get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{vendor}:assumed-role/document-storage-role/service"
    )
    with pytest.raises(ClientError) as exc:
        local_aws.assume(vendor_session, client_role, external_id=EXTERNAL_ID, duration_s=7200)
    assert code_of(exc) == "ValidationError"
    assert "1 hour session limit" in exc.value.response["Error"]["Message"]
    creds = local_aws.assume(vendor_session, client_role, external_id=EXTERNAL_ID, duration_s=3600)
    assert local_aws.client("sts", creds).get_caller_identity()["Account"] == customer
