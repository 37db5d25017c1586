"""KMS keys by ARN across accounts, lifecycle calls by ARN, and key states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of

from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws

CONTEXT = {"tenant": "acme"}


def share_with(local_aws: LocalAws, customer: str, key_arn: str, vendor: str) -> None:
    """Key policy: the customer's root (kms:*) and the vendor account's root (crypto)."""
    local_aws.client("kms", customer).put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(
            allow(f"arn:aws:iam::{customer}:root", "kms:*"),
            allow(
                f"arn:aws:iam::{vendor}:root",
                [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
            ),
        ),
    )


def test_other_account_uses_key_by_arn(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    share_with(local_aws, customer, key_arn, vendor)
    kms = local_aws.client("kms", vendor)
    made = kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256", EncryptionContext=CONTEXT)
    assert made["KeyId"] == key_arn
    back = kms.decrypt(CiphertextBlob=made["CiphertextBlob"], EncryptionContext=CONTEXT)
    assert back["Plaintext"] == made["Plaintext"]
    assert back["KeyId"] == key_arn
    described = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    assert described["AWSAccountId"] == customer
    # and the owner decrypts what the vendor encrypted: one key, served by its owner
    owner = local_aws.client("kms", customer)
    assert (
        owner.decrypt(CiphertextBlob=made["CiphertextBlob"], EncryptionContext=CONTEXT)["Plaintext"]
        == made["Plaintext"]
    )


def test_key_in_another_region_is_served_by_its_region(local_aws: LocalAws, customer: str) -> None:
    west = local_aws.create_key(customer, region="us-west-2")
    kms = local_aws.client("kms", customer, "us-east-1")
    assert kms.describe_key(KeyId=west)["KeyMetadata"]["Arn"] == west
    assert west.split(":")[3] == "us-west-2"


@pytest.mark.parametrize("which", ["unknown account", "unknown key", "unknown region"])
def test_key_arn_that_does_not_exist_is_not_found(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str, which: str
) -> None:
    parts = key_arn.split(":")
    if which == "unknown account":
        parts[4] = local_aws.new_account()
    elif which == "unknown key":
        parts[5] = "key/11111111-2222-3333-4444-555555555555"
    else:
        parts[3] = "eu-central-1"
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", vendor).encrypt(KeyId=":".join(parts), Plaintext=b"x")
    assert code_of(exc) == "NotFoundException"


def test_bare_key_id_means_the_callers_own_account(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    share_with(local_aws, customer, key_arn, vendor)
    key_id = key_arn.rsplit("/", 1)[1]
    assert (
        local_aws.client("kms", customer).describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        == key_arn
    )
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", vendor).describe_key(KeyId=key_id)
    assert code_of(exc) == "NotFoundException"


LIFECYCLE: list[tuple[str, Callable[[Any, str], Any], Callable[[dict[str, Any]], bool]]] = [
    (
        "describe_key",
        lambda k, a: k.describe_key(KeyId=a),
        lambda r: r["KeyMetadata"]["KeyState"] == "Enabled",
    ),
    (
        "get_key_policy",
        lambda k, a: k.get_key_policy(KeyId=a, PolicyName="default"),
        lambda r: "kms:*" in r["Policy"],
    ),
    ("enable_key_rotation", lambda k, a: k.enable_key_rotation(KeyId=a), lambda r: True),
    (
        "get_key_rotation_status",
        lambda k, a: k.get_key_rotation_status(KeyId=a),
        lambda r: r["KeyRotationEnabled"] is False,
    ),
    ("disable_key", lambda k, a: k.disable_key(KeyId=a), lambda r: True),
    (
        "schedule_key_deletion",
        lambda k, a: k.schedule_key_deletion(KeyId=a, PendingWindowInDays=7),
        lambda r: r["KeyState"] == "PendingDeletion",
    ),
]


@pytest.mark.parametrize(("name", "call", "check"), LIFECYCLE, ids=[c[0] for c in LIFECYCLE])
def test_lifecycle_calls_accept_key_arns(
    local_aws: LocalAws,
    key_arn: str,
    customer: str,
    name: str,
    call: Callable[[Any, str], Any],
    check: Callable[[dict[str, Any]], bool],
) -> None:
    answer = call(local_aws.client("kms", customer), key_arn)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert check(answer)
    if "KeyId" in answer:
        assert answer["KeyId"] == key_arn


def test_disable_enable_schedule_cancel_by_arn(
    local_aws: LocalAws, key_arn: str, customer: str
) -> None:
    kms = local_aws.client("kms", customer)

    def state() -> str:
        return str(kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"])

    kms.disable_key(KeyId=key_arn)
    assert state() == "Disabled"
    kms.enable_key(KeyId=key_arn)
    assert state() == "Enabled"
    kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    assert state() == "PendingDeletion"
    assert kms.cancel_key_deletion(KeyId=key_arn)["KeyId"] == key_arn
    assert state() == "Disabled"  # AWS: a cancelled deletion leaves the key disabled


def test_lifecycle_rules_of_pending_deletion(
    local_aws: LocalAws, key_arn: str, customer: str
) -> None:
    kms = local_aws.client("kms", customer)
    with pytest.raises(ClientError) as exc:
        kms.cancel_key_deletion(KeyId=key_arn)
    assert code_of(exc) == "KMSInvalidStateException"  # not pending deletion
    with pytest.raises(ClientError) as exc:
        kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=3)
    assert code_of(exc) == "ValidationException"
    kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        kms.enable_key(KeyId=key_arn)
    assert code_of(exc) == "KMSInvalidStateException"


def crypto_calls(key_arn: str, blob: bytes) -> dict[str, Callable[[Any], Any]]:
    return {
        "Encrypt": lambda k: k.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext=CONTEXT),
        "Decrypt": lambda k: k.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT),
        "GenerateDataKey": lambda k: k.generate_data_key(KeyId=key_arn, KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext": lambda k: k.generate_data_key_without_plaintext(
            KeyId=key_arn, KeySpec="AES_256"
        ),
        "ReEncrypt": lambda k: k.re_encrypt(
            CiphertextBlob=blob, SourceEncryptionContext=CONTEXT, DestinationKeyId=key_arn
        ),
    }


@pytest.mark.parametrize(
    "operation",
    ["Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"],
)
@pytest.mark.parametrize(
    ("lock", "code"), [("disable", "DisabledException"), ("schedule", "KMSInvalidStateException")]
)
def test_key_state_refuses_crypto_and_recovery_restores(
    local_aws: LocalAws,
    customer: str,
    vendor: str,
    key_arn: str,
    operation: str,
    lock: str,
    code: str,
) -> None:
    share_with(local_aws, customer, key_arn, vendor)
    owner, user = local_aws.client("kms", customer), local_aws.client("kms", vendor)
    blob = owner.encrypt(KeyId=key_arn, Plaintext=b"secret", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    call = crypto_calls(key_arn, blob)[operation]
    assert call(user)["ResponseMetadata"]["HTTPStatusCode"] == 200
    if lock == "disable":
        owner.disable_key(KeyId=key_arn)
    else:
        owner.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        call(user)
    assert code_of(exc) == code
    assert key_arn in exc.value.response["Error"]["Message"]
    if lock == "schedule":
        owner.cancel_key_deletion(KeyId=key_arn)
    owner.enable_key(KeyId=key_arn)
    assert call(user)["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(
    ("lock", "code"), [("disable", "DisabledException"), ("schedule", "KMSInvalidStateException")]
)
def test_re_encrypt_checks_the_destination_key_state(
    local_aws: LocalAws, customer: str, key_arn: str, lock: str, code: str
) -> None:
    kms = local_aws.client("kms", customer)
    target = local_aws.create_key(customer)
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=target)["KeyId"] == target
    if lock == "disable":
        kms.disable_key(KeyId=target)
    else:
        kms.schedule_key_deletion(KeyId=target, PendingWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=target)
    assert code_of(exc) == code
    assert target in exc.value.response["Error"]["Message"]


def test_re_encrypt_between_keys_of_two_other_accounts(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    second = local_aws.new_account()
    target = local_aws.create_key(second)
    share_with(local_aws, customer, key_arn, vendor)
    share_with(local_aws, second, target, vendor)
    kms = local_aws.client("kms", vendor)
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"secret", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=CONTEXT,
        DestinationKeyId=target,
        DestinationEncryptionContext={"t": "2"},
    )
    assert moved["SourceKeyId"] == key_arn and moved["KeyId"] == target
    back = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"t": "2"})
    assert back["Plaintext"] == b"secret" and back["KeyId"] == target


def test_decrypt_with_the_wrong_key_id_or_context_fails(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    kms = local_aws.client("kms", customer)
    other = local_aws.create_key(customer)
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"s", EncryptionContext=CONTEXT)["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, KeyId=other, EncryptionContext=CONTEXT)
    assert code_of(exc) == "IncorrectKeyException"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant": "other"})
    assert code_of(exc) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=b"too short to be a ciphertext")
    assert code_of(exc) == "InvalidCiphertextException"
    assert (
        kms.decrypt(CiphertextBlob=blob, KeyId=key_arn, EncryptionContext=CONTEXT)["Plaintext"]
        == b"s"
    )


def test_same_account_only_operations_refuse_other_accounts_keys(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    local_aws.client("kms", customer).put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(
            allow(f"arn:aws:iam::{customer}:root", "kms:*"),
            allow(f"arn:aws:iam::{vendor}:root", "kms:*"),
        ),
    )
    kms = local_aws.client("kms", vendor)
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn  # cross-account: yes
    calls: list[Callable[[], Any]] = [
        lambda: kms.disable_key(KeyId=key_arn),
        lambda: kms.get_key_policy(KeyId=key_arn, PolicyName="default"),
        lambda: kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "NotFoundException"
    owner = local_aws.client("kms", customer)
    assert owner.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled"


def test_describe_key_reports_the_default_key_usage(local_aws: LocalAws) -> None:
    """AWS always reports KeyUsage (default ENCRYPT_DECRYPT); moto alone omits it."""
    kms = local_aws.client("kms", local_aws.new_account())
    arn = kms.create_key(Description="no usage given")["KeyMetadata"]["Arn"]
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyUsage"] == "ENCRYPT_DECRYPT"
