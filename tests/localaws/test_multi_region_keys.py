"""Multi-Region keys (mrk-) in the local AWS: CreateKey with MultiRegion, ReplicateKey, and
ciphertext of one related key decrypting under another (docs/local-aws.md)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of

from byok.core.arn import parse_key_arn
from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws

CONTEXT = {"tenant": "acme"}


def mrk(local_aws: LocalAws, account: str, region: str = "us-east-1") -> str:
    kms = local_aws.client("kms", account, region)
    return str(kms.create_key(MultiRegion=True)["KeyMetadata"]["Arn"])


def replicate(local_aws: LocalAws, account: str, arn: str, region: str, **kw: Any) -> str:
    kms = local_aws.client("kms", account, arn.split(":")[3])
    answer = kms.replicate_key(KeyId=arn, ReplicaRegion=region, **kw)
    return str(answer["ReplicaKeyMetadata"]["Arn"])


def encrypt(local_aws: LocalAws, account: str, arn: str) -> bytes:
    kms = local_aws.client("kms", account, arn.split(":")[3])
    blob = kms.encrypt(KeyId=arn, Plaintext=b"secret", EncryptionContext=CONTEXT)
    return bytes(blob["CiphertextBlob"])


def decrypt(local_aws: LocalAws, who: Any, region: str, blob: bytes) -> dict[str, Any]:
    kms = local_aws.client("kms", who, region)
    return dict(kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT))


def test_a_multi_region_key_decrypts_its_own_ciphertext(local_aws: LocalAws, customer: str) -> None:
    arn = mrk(local_aws, customer)
    meta = local_aws.client("kms", customer).describe_key(KeyId=arn)["KeyMetadata"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", meta["KeyId"]) and meta["MultiRegion"] is True
    assert parse_key_arn(arn).multi_region  # the product's parser takes AWS's format
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    answer = decrypt(local_aws, customer, "us-east-1", encrypt(local_aws, customer, arn))
    assert (answer["Plaintext"], answer["KeyId"]) == (b"secret", arn)


def test_ciphertext_of_one_replica_decrypts_under_another(
    local_aws: LocalAws, customer: str
) -> None:
    primary = mrk(local_aws, customer)
    replica = replicate(local_aws, customer, primary, "eu-west-1")
    assert replica == primary.replace("us-east-1", "eu-west-1")
    described = local_aws.client("kms", customer, "eu-west-1").describe_key(KeyId=replica)
    config = described["KeyMetadata"]["MultiRegionConfiguration"]
    assert config["MultiRegionKeyType"] == "REPLICA"
    assert config["PrimaryKey"]["Arn"] == primary
    primary_config = local_aws.client("kms", customer).describe_key(KeyId=primary)["KeyMetadata"][
        "MultiRegionConfiguration"
    ]
    assert primary_config["MultiRegionKeyType"] == "PRIMARY"
    assert [r["Arn"] for r in primary_config["ReplicaKeys"]] == [replica]
    from_primary = encrypt(local_aws, customer, primary)
    answer = decrypt(local_aws, customer, "eu-west-1", from_primary)
    assert (answer["Plaintext"], answer["KeyId"]) == (b"secret", replica)
    from_replica = encrypt(local_aws, customer, replica)
    assert decrypt(local_aws, customer, "us-east-1", from_replica)["KeyId"] == primary
    with pytest.raises(ClientError) as exc:  # no related key in this Region
        decrypt(local_aws, customer, "ap-south-1", from_primary)
    assert code_of(exc) == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:  # the context still binds
        local_aws.client("kms", customer, "eu-west-1").decrypt(CiphertextBlob=from_primary)
    assert code_of(exc) == "InvalidCiphertextException"


def test_replicas_have_their_own_state_policy_and_grants(
    local_aws: LocalAws, customer: str, vendor: str
) -> None:
    primary = mrk(local_aws, customer)
    vendor_root = f"arn:aws:iam::{vendor}:root"
    replica = replicate(
        local_aws,
        customer,
        primary,
        "eu-west-1",
        Policy=statements(
            allow(f"arn:aws:iam::{customer}:root", "kms:*"), allow(vendor_root, "kms:Decrypt")
        ),
    )
    blob = encrypt(local_aws, customer, primary)
    assert decrypt(local_aws, vendor, "eu-west-1", blob)["KeyId"] == replica
    with pytest.raises(ClientError) as exc:  # the primary's policy does not name the vendor
        decrypt(local_aws, vendor, "us-east-1", blob)
    assert code_of(exc) == "AccessDeniedException"
    kms_eu = local_aws.client("kms", customer, "eu-west-1")
    kms_eu.create_grant(KeyId=replica, GranteePrincipal=vendor_root, Operations=["Encrypt"])
    assert local_aws.client("kms", customer).list_grants(KeyId=primary)["Grants"] == []
    kms_eu.disable_key(KeyId=replica)
    with pytest.raises(ClientError) as exc:
        decrypt(local_aws, customer, "eu-west-1", blob)
    assert code_of(exc) == "DisabledException"
    assert decrypt(local_aws, customer, "us-east-1", blob)["Plaintext"] == b"secret"


def test_re_encrypt_from_a_multi_region_key(local_aws: LocalAws, customer: str) -> None:
    primary = mrk(local_aws, customer)
    target = local_aws.create_key(customer)
    blob = encrypt(local_aws, customer, primary)
    kms = local_aws.client("kms", customer)
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=CONTEXT,
        DestinationKeyId=target,
        DestinationEncryptionContext=CONTEXT,
    )
    assert moved["SourceKeyId"] == primary and moved["KeyId"] == target
    assert decrypt(local_aws, customer, "us-east-1", moved["CiphertextBlob"])["KeyId"] == target


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("single-region", "UnsupportedOperationException"),
        ("same-region", "ValidationException"),
        ("twice", "AlreadyExistsException"),
        ("from-replica", "UnsupportedOperationException"),
    ],
)
def test_replicate_key_refusals(local_aws: LocalAws, customer: str, case: str, code: str) -> None:
    arn = local_aws.create_key(customer) if case == "single-region" else mrk(local_aws, customer)
    region = "us-east-1" if case == "same-region" else "eu-west-1"
    if case in ("twice", "from-replica"):
        replica = replicate(local_aws, customer, arn, region)
        if case == "from-replica":
            arn, region = replica, "ap-south-1"
    with pytest.raises(ClientError) as exc:
        replicate(local_aws, customer, arn, region)
    assert code_of(exc) == code
