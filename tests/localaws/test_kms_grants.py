"""KMS grants in the local AWS: CreateGrant / ListGrants / RetireGrant / RevokeGrant, grant
tokens, encryption-context constraints, and grants in authorization (docs/local-aws.md)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import code_of

from byok.localaws.pytest_plugin import KeyEvents
from byok.localaws.testing import LocalAws, allow, statements

pytestmark = pytest.mark.localaws

CONTEXT = {"tenant": "acme"}


def root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def role_session(
    local_aws: LocalAws, account: str, name: str, *, iam_allows: bool
) -> tuple[str, dict[str, str]]:
    """A role of ``account`` (its own root may assume it) and a session of it."""
    policies = (
        {"kms": statements({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})}
        if iam_allows
        else {}
    )
    trust = statements(allow(root(account), "sts:AssumeRole", resource=None))
    arn = local_aws.make_role(account, name, trust, policies)
    return arn, local_aws.assume(account, arn)


def ciphertext(local_aws: LocalAws, customer: str, key_arn: str, context: dict[str, str]) -> Any:
    kms = local_aws.client("kms", customer)
    return kms.encrypt(KeyId=key_arn, Plaintext=b"secret", EncryptionContext=context)[
        "CiphertextBlob"
    ]


def grant(local_aws: LocalAws, customer: str, key_arn: str, **kwargs: Any) -> dict[str, Any]:
    return dict(local_aws.client("kms", customer).create_grant(KeyId=key_arn, **kwargs))


def test_a_grant_lets_a_cross_account_role_decrypt_until_revoked(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str, key_events: KeyEvents
) -> None:
    key_events.watch(customer)
    role_arn, session = role_session(local_aws, vendor, "byok-service", iam_allows=True)
    blob = ciphertext(local_aws, customer, key_arn, CONTEXT)
    vendor_kms = local_aws.client("kms", session)
    with pytest.raises(ClientError) as exc:  # the default key policy does not name the vendor
        vendor_kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert code_of(exc) == "AccessDeniedException"
    made = grant(local_aws, customer, key_arn, GranteePrincipal=role_arn, Operations=["Decrypt"])
    answer = vendor_kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert answer["Plaintext"] == b"secret"
    listed = local_aws.client("kms", customer).list_grants(KeyId=key_arn)["Grants"]
    assert [(g["GrantId"], g["GranteePrincipal"]) for g in listed] == [(made["GrantId"], role_arn)]
    local_aws.client("kms", customer).revoke_grant(KeyId=key_arn, GrantId=made["GrantId"])
    with pytest.raises(ClientError) as exc:
        vendor_kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert code_of(exc) == "AccessDeniedException"
    created = key_events.sink.wait_for("CreateGrant")["detail"]
    assert created["requestParameters"]["granteePrincipal"] == role_arn
    assert created["requestParameters"]["operations"] == ["Decrypt"]
    revoked = key_events.sink.wait_for("RevokeGrant")["detail"]
    assert revoked["requestParameters"]["grantId"] == made["GrantId"]


def test_cross_account_grantee_also_needs_its_own_identity_policy(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    role_arn, session = role_session(local_aws, vendor, "no-iam", iam_allows=False)
    grant(local_aws, customer, key_arn, GranteePrincipal=role_arn, Operations=["Encrypt"])
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", session).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"


def test_same_account_grantee_needs_no_identity_policy(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    role_arn, session = role_session(local_aws, customer, "app", iam_allows=False)
    grant(local_aws, customer, key_arn, GranteePrincipal=role_arn, Operations=["Encrypt"])
    assert local_aws.client("kms", session).encrypt(KeyId=key_arn, Plaintext=b"x")["KeyId"]


def test_grant_operations_and_context_constraints_are_enforced(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    role_arn, session = role_session(local_aws, customer, "app", iam_allows=False)
    kms = local_aws.client("kms", session)
    grant(
        local_aws,
        customer,
        key_arn,
        GranteePrincipal=role_arn,
        Operations=["Encrypt", "GenerateDataKey"],
        Constraints={"EncryptionContextSubset": CONTEXT},
    )
    assert kms.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext={**CONTEXT, "d": "1"})
    for context in ({}, {"tenant": "other"}):
        with pytest.raises(ClientError) as exc:
            kms.encrypt(KeyId=key_arn, Plaintext=b"x", EncryptionContext=context)
        assert code_of(exc) == "AccessDeniedException", context
    blob = ciphertext(local_aws, customer, key_arn, CONTEXT)
    with pytest.raises(ClientError) as exc:  # Decrypt is not one of the grant's operations
        kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)
    assert code_of(exc) == "AccessDeniedException"
    grant(
        local_aws,
        customer,
        key_arn,
        GranteePrincipal=role_arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": CONTEXT},
    )
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)["Plaintext"] == b"secret"
    extra = ciphertext(local_aws, customer, key_arn, {**CONTEXT, "d": "1"})
    with pytest.raises(ClientError) as exc:  # Equals: one more pair is refused
        kms.decrypt(CiphertextBlob=extra, EncryptionContext={**CONTEXT, "d": "1"})
    assert code_of(exc) == "AccessDeniedException"


def test_an_explicit_deny_in_the_key_policy_beats_a_grant(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    role_arn, session = role_session(local_aws, customer, "app", iam_allows=False)
    grant(local_aws, customer, key_arn, GranteePrincipal=role_arn, Operations=["Encrypt"])
    local_aws.client("kms", customer).put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(
            allow(root(customer), "kms:*"), allow(role_arn, "kms:Encrypt", effect="Deny")
        ),
    )
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", session).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"
    assert "explicit deny" in exc.value.response["Error"]["Message"]


def test_a_grant_does_not_work_on_a_disabled_key(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    role_arn, session = role_session(local_aws, customer, "app", iam_allows=False)
    grant(local_aws, customer, key_arn, GranteePrincipal=role_arn, Operations=["Encrypt"])
    local_aws.client("kms", customer).disable_key(KeyId=key_arn)
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", session).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "DisabledException"


def test_retire_grant_by_token_across_accounts_and_who_may_retire(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    role_arn, session = role_session(local_aws, vendor, "svc", iam_allows=True)
    other_arn, other = role_session(local_aws, vendor, "other", iam_allows=True)
    made = grant(
        local_aws,
        customer,
        key_arn,
        GranteePrincipal=role_arn,
        RetiringPrincipal=role_arn,
        Operations=["Encrypt"],
    )
    with pytest.raises(ClientError) as exc:  # neither retiring principal nor grantee
        local_aws.client("kms", other).retire_grant(GrantToken=made["GrantToken"])
    assert code_of(exc) == "AccessDeniedException"
    local_aws.client("kms", session).retire_grant(GrantToken=made["GrantToken"])
    assert local_aws.client("kms", customer).list_grants(KeyId=key_arn)["Grants"] == []
    with pytest.raises(ClientError) as exc:
        local_aws.client("kms", session).encrypt(KeyId=key_arn, Plaintext=b"x")
    assert code_of(exc) == "AccessDeniedException"
    with pytest.raises(ClientError) as exc:  # the token is gone with the grant
        local_aws.client("kms", session).retire_grant(GrantToken=made["GrantToken"])
    assert code_of(exc) == "InvalidGrantTokenException"
    second = grant(local_aws, customer, key_arn, GranteePrincipal=other_arn, Operations=["Encrypt"])
    local_aws.client("kms", customer).retire_grant(KeyId=key_arn, GrantId=second["GrantId"])


def test_grant_tokens_must_name_a_grant_on_the_key(
    local_aws: LocalAws, customer: str, key_arn: str
) -> None:
    role_arn, session = role_session(local_aws, customer, "app", iam_allows=False)
    made = grant(local_aws, customer, key_arn, GranteePrincipal=role_arn, Operations=["Encrypt"])
    kms = local_aws.client("kms", session)
    assert kms.encrypt(KeyId=key_arn, Plaintext=b"x", GrantTokens=[made["GrantToken"]])
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_arn, Plaintext=b"x", GrantTokens=["forged-token"])
    assert code_of(exc) == "InvalidGrantTokenException"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"GranteePrincipal": "not-an-arn", "Operations": ["Decrypt"]},
        {"GranteePrincipal": "arn:aws:iam::111122223333:root", "Operations": ["Fly"]},
        {"GranteePrincipal": "arn:aws:iam::111122223333:root", "Operations": []},
    ],
)
def test_malformed_grants_are_refused(
    local_aws: LocalAws, customer: str, key_arn: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ClientError) as exc:
        grant(local_aws, customer, key_arn, **kwargs)
    assert code_of(exc) == "ValidationException"
    assert local_aws.client("kms", customer).list_grants(KeyId=key_arn)["Grants"] == []


def test_create_grant_is_authorized_with_its_condition_keys(
    local_aws: LocalAws, customer: str, vendor: str, key_arn: str
) -> None:
    admin_arn, admin = role_session(local_aws, customer, "admin", iam_allows=False)
    local_aws.client("kms", customer).put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=statements(
            allow(root(customer), "kms:*"),
            allow(
                admin_arn,
                "kms:CreateGrant",
                condition={"StringEquals": {"kms:GranteePrincipal": root(vendor)}},
            ),
        ),
    )
    kms = local_aws.client("kms", admin)
    assert kms.create_grant(KeyId=key_arn, GranteePrincipal=root(vendor), Operations=["Decrypt"])
    with pytest.raises(ClientError) as exc:
        kms.create_grant(KeyId=key_arn, GranteePrincipal=admin_arn, Operations=["Decrypt"])
    assert code_of(exc) == "AccessDeniedException"
