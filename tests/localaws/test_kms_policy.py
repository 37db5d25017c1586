"""Key policies enforced with the product's evaluator, plus IAM identity policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of

from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws

CRYPTO = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def set_policy(local_aws: LocalAws, customer: str, key_arn: str, *extra: dict[str, Any]) -> None:
    local_aws.client("kms", customer).put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(allow(root(customer), "kms:*"), *extra),
    )


def vendor_role(local_aws: LocalAws, vendor: str, *, identity: bool) -> dict[str, str]:
    """A role in the vendor account (with or without a KMS identity policy), assumed."""
    policies = {
        "kms": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": CRYPTO, "Resource": "arn:aws:kms:*:*:key/*"}
            ],
        }
    }
    arn = local_aws.make_role(
        vendor,
        "service",
        statements(allow(root(vendor), "sts:AssumeRole")),
        policies if identity else None,
    )
    return {"arn": arn, **local_aws.assume(vendor, arn)}


def test_default_key_policy_lets_the_owner_root_in_and_nobody_else(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    policy = json.loads(
        local_aws.client("kms", customer).get_key_policy(KeyId=key_arn, PolicyName="default")[
            "Policy"
        ]
    )
    assert policy["Statement"][0]["Principal"] == {"AWS": root(customer)}
    assert policy["Statement"][0]["Action"] == "kms:*"
    assert local_aws.client("kms", customer).encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"]
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", vendor).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"
    assert exc.value.response["Error"]["Message"] == (
        f"User: {root(vendor)} is not authorized to perform: kms:Encrypt on resource: "
        f"{key_arn} because no resource-based policy allows the kms:Encrypt action"
    )


def test_key_policy_naming_the_role_allows_it(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    session = vendor_role(local_aws, vendor, identity=True)
    kms = local_aws.client("kms", session)
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256")
    assert code_of(exc) == "AccessDeniedException"
    set_policy(local_aws, customer, key_arn, allow(session["arn"], CRYPTO))
    made = kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=made["CiphertextBlob"])["Plaintext"] == made["Plaintext"]


def test_cross_account_needs_the_callers_identity_policy_too(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    session = vendor_role(local_aws, vendor, identity=False)
    set_policy(local_aws, customer, key_arn, allow(session["arn"], CRYPTO))
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", session).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"
    assert (
        "because no identity-based policy allows the kms:Encrypt action"
        in (exc.value.response["Error"]["Message"])
    )
    assert exc.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{vendor}:assumed-role/service/byok-test is not authorized"
    )


def test_same_account_role_named_in_key_policy_needs_no_identity_policy(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    arn = local_aws.make_role(customer, "app", statements(allow(root(customer), "sts:AssumeRole")))
    session = local_aws.assume(customer, arn)
    kms = local_aws.client("kms", session)
    with pytest.raises(ClientError) as exc:  # root statement only delegates to IAM policies
        kms.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"
    set_policy(local_aws, customer, key_arn, allow(arn, ["kms:Encrypt"]))
    assert kms.encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"] == key_arn


def test_explicit_deny_wins_over_allow(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    set_policy(
        local_aws,
        customer,
        key_arn,
        allow(root(vendor), CRYPTO),
        allow(root(vendor), "kms:Decrypt", effect="Deny"),
    )
    kms = local_aws.client("kms", vendor)
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    assert code_of(exc) == "AccessDeniedException"
    assert (
        "with an explicit deny in a resource-based policy"
        in (exc.value.response["Error"]["Message"])
    )


def test_explicit_deny_in_identity_policy_wins(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}],
    }
    arn, creds = local_aws.make_user(customer, "denied", {"deny": deny})
    set_policy(local_aws, customer, key_arn, allow(arn, ["kms:Encrypt", "kms:DescribeKey"]))
    kms = local_aws.client("kms", creds)
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert (
        "with an explicit deny in an identity-based policy"
        in (exc.value.response["Error"]["Message"])
    )


def test_encryption_context_condition(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    set_policy(
        local_aws,
        customer,
        key_arn,
        allow(
            root(vendor),
            ["kms:GenerateDataKey", "kms:Decrypt"],
            condition={"StringEquals": {"kms:EncryptionContext:tenant": "acme"}},
        ),
    )
    kms = local_aws.client("kms", vendor)
    made = kms.generate_data_key(
        KeyId=key_arn, KeySpec="AES_256", EncryptionContext={"tenant": "acme"}
    )
    assert (
        kms.decrypt(CiphertextBlob=made["CiphertextBlob"], EncryptionContext={"tenant": "acme"})[
            "Plaintext"
        ]
        == made["Plaintext"]
    )
    for context in ({"tenant": "other"}, {}):
        with pytest.raises(ClientError) as exc:
            kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256", EncryptionContext=context)
        assert code_of(exc) == "AccessDeniedException"


def test_caller_account_condition(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    third = local_aws.new_account()
    set_policy(
        local_aws,
        customer,
        key_arn,
        allow("*", ["kms:Encrypt"], condition={"StringEquals": {"kms:CallerAccount": vendor}}),
    )
    assert local_aws.client("kms", vendor).encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"]
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", third).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"


def test_re_encrypt_authorizes_from_and_to_separately(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    target = local_aws.create_key(customer)
    set_policy(
        local_aws, customer, key_arn, allow(root(vendor), ["kms:Encrypt", "kms:ReEncryptFrom"])
    )
    blob = local_aws.client("kms", vendor).encrypt(KeyId=key_arn, Plaintext=b"x")["CiphertextBlob"]
    kms = local_aws.client("kms", vendor)
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=target)
    assert "kms:ReEncryptTo" in exc.value.response["Error"]["Message"]
    set_policy(local_aws, customer, target, allow(root(vendor), ["kms:ReEncryptTo"]))
    assert kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=target)["KeyId"] == target
    set_policy(local_aws, customer, key_arn, allow(root(vendor), ["kms:Encrypt"]))
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=target)
    assert "kms:ReEncryptFrom" in exc.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "policy",
    [
        "not json",
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
            }
        ),  # no Principal
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}
                ],
            }
        ),
    ],
)
def test_malformed_key_policy_is_rejected(
    local_aws: LocalAws, customer: str, key_arn: str, policy: str
) -> None:
    kms = local_aws.client("kms", customer)
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=policy)
    assert code_of(exc) == "MalformedPolicyDocumentException"
    with pytest.raises(ClientError) as exc:
        kms.create_key(Policy=policy)
    assert code_of(exc) == "MalformedPolicyDocumentException"
    assert "kms:*" in kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]


def test_lockout_safety_check(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    kms = local_aws.client("kms", customer)
    vendor_only = statements(allow(root(vendor), CRYPTO))
    with pytest.raises(ClientError) as exc:
        kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=vendor_only)
    assert code_of(exc) == "MalformedPolicyDocumentException"
    assert "will not allow you to update the key policy" in exc.value.response["Error"]["Message"]
    kms.put_key_policy(
        KeyId=key_arn, PolicyName="default", Policy=vendor_only, BypassPolicyLockoutSafetyCheck=True
    )
    with pytest.raises(ClientError) as exc:  # the owner locked itself out, as in AWS
        kms.describe_key(KeyId=key_arn)
    assert code_of(exc) == "AccessDeniedException"
