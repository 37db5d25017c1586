"""Issue 13's finding classes end to end through the local AWS (the evaluator behind KMS):
NotPrincipal in an Allow, a policy variable with no value in a Deny, a negated operator on a
malformed value, and documents IAM accepts or refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of

from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws


def root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def role(local_aws: LocalAws, account: str, name: str) -> tuple[str, dict[str, str]]:
    """A role of ``account`` without identity policies, and a session of it."""
    trust = statements(allow(root(account), "sts:AssumeRole", resource=None))
    arn = local_aws.make_role(account, name, trust)
    return arn, local_aws.assume(account, arn, session_name=name)


def put_policy(local_aws: LocalAws, account: str, key_arn: str, *extra: dict[str, Any]) -> None:
    local_aws.client("kms", account).put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(allow(root(account), "kms:*"), *extra),
    )


def test_allow_with_not_principal_refuses_the_principal_it_names(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    excluded_arn, excluded = role(local_aws, customer, "excluded")
    _, other = role(local_aws, customer, "other")
    put_policy(
        local_aws,
        customer,
        key_arn,
        {"Effect": "Allow", "NotPrincipal": {"AWS": excluded_arn}, "Action": "kms:Encrypt",
         "Resource": "*"},
    )  # fmt: skip
    assert local_aws.client("kms", other).encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"]
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", excluded).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"


def test_deny_with_a_variable_that_has_no_value_applies(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    app_arn, app = role(local_aws, customer, "app")  # no principal tag "team"
    put_policy(
        local_aws,
        customer,
        key_arn,
        allow(app_arn, "kms:Encrypt"),
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringNotEquals": {
             "kms:EncryptionContext:team": "${aws:PrincipalTag/team}"}}},
    )  # fmt: skip
    kms = local_aws.client("kms", app)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext={"team": "blue"})
    assert code_of(exc) == "AccessDeniedException"
    assert "explicit deny" in exc.value.response["Error"]["Message"]


def test_negated_operator_on_a_malformed_value_never_grants(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    app_arn, app = role(local_aws, customer, "app")
    put_policy(
        local_aws,
        customer,
        key_arn,
        allow(app_arn, "kms:Encrypt", condition={"ArnNotLike": {
            "kms:EncryptionContext:source": "arn:aws:s3:::quarantine/*"}}),
    )  # fmt: skip
    kms = local_aws.client("kms", app)
    source = {"source": "arn:aws:s3:::uploads/x"}
    assert kms.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext=source)["KeyId"]
    with pytest.raises(ClientError) as exc:  # not an ARN: no match, so no grant
        kms.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext={"source": "garbage"})
    assert code_of(exc) == "AccessDeniedException"


@pytest.mark.parametrize(
    ("extra", "accepted"),
    [
        ({"Condition": {}}, True),
        ({"Condition": {"StringEquals": {}}}, True),
        ({"Condition": {"ForAnyValue:Null": {"kms:EncryptionContextKeys": "false"}}}, True),
        ({"Resource": "arn:aws:kms:us-east-1:key/1"}, False),
        ({"Condition": {"DateLessThan": {"aws:CurrentTime": "tomorrow"}}}, False),
    ],
)
def test_documents_iam_accepts_and_refuses(
    local_aws: LocalAws, customer: str, key_arn: str, extra: dict[str, Any], accepted: bool
) -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": root(customer)}, "Action": "kms:*",
                 "Resource": "*", **extra}  # fmt: skip
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    kms = local_aws.client("kms", customer)
    if accepted:
        kms.put_key_policy(
            KeyId=key_arn, PolicyName="default", Policy=document,
            BypassPolicyLockoutSafetyCheck=True,
        )  # fmt: skip
        return
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=document)
    assert code_of(exc) == "MalformedPolicyDocumentException"
