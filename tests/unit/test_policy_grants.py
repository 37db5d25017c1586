"""KMS authorization with grants (byok.core.policy.grants through kms_authorize)."""

from __future__ import annotations

from typing import Any

import pytest

from byok.core.policy.evaluate import Decision, Grant, Request, kms_authorize, parse_policy
from byok.errors import InvalidInput

A, V = "111122223333", "444455556666"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = f"arn:aws:iam::{V}:role/byok-service"
SESSION = f"arn:aws:sts::{V}:assumed-role/byok-service/s"
ROOT_ONLY = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)
IAM_ALLOW = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": KEY}],
    }
)
IAM_DENY = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}],
    }
)


def request(
    arns: tuple[str, ...] = (SESSION, ROLE),
    account: str = V,
    action: str = "kms:Decrypt",
    context: dict[str, str] | None = None,
) -> Request:
    keys: dict[str, Any] = {f"kms:EncryptionContext:{k}": v for k, v in (context or {}).items()}
    return Request(arns, account, action, KEY, keys)


def grant(grantee: str = ROLE, ops: tuple[str, ...] = ("Decrypt",), **kw: Any) -> Grant:
    return Grant("g1", grantee, frozenset(ops), **kw)


def decide(req: Request, grants: list[Grant], identity: list[Any] | None = None) -> Decision:
    ids = [IAM_ALLOW] if identity is None else identity
    return kms_authorize(ROOT_ONLY, ids, req, key_account=A, grants=grants)


def test_a_grant_allows_its_grantee_and_operations_only() -> None:
    assert decide(request(), []) is Decision.IMPLICIT_DENY
    assert decide(request(), [grant()]) is Decision.ALLOW
    assert decide(request(action="kms:Encrypt"), [grant()]) is Decision.IMPLICIT_DENY
    other = request(arns=(f"arn:aws:iam::{V}:role/other",))
    assert decide(other, [grant()]) is Decision.IMPLICIT_DENY


def test_cross_account_grantee_needs_an_identity_allow() -> None:
    assert decide(request(), [grant()], identity=[]) is Decision.IMPLICIT_DENY


def test_same_account_grantee_needs_no_identity_policy() -> None:
    role = f"arn:aws:iam::{A}:role/app"
    same = request(arns=(role,), account=A)
    assert decide(same, [grant(grantee=role)], identity=[]) is Decision.ALLOW


def test_an_account_grantee_is_a_delegation() -> None:
    account_grant = grant(grantee=f"arn:aws:iam::{V}:root")
    assert decide(request(), [account_grant], identity=[]) is Decision.IMPLICIT_DENY
    assert decide(request(), [account_grant]) is Decision.ALLOW
    vendor_root = request(arns=(f"arn:aws:iam::{V}:root",))
    assert decide(vendor_root, [account_grant], identity=[]) is Decision.ALLOW


def test_explicit_deny_wins_over_a_grant() -> None:
    assert decide(request(), [grant()], identity=[IAM_ALLOW, IAM_DENY]) is (Decision.EXPLICIT_DENY)


@pytest.mark.parametrize(
    ("constraint", "context", "allowed"),
    [
        ({"context_subset": {"tenant": "acme"}}, {"tenant": "acme", "doc": "1"}, True),
        ({"context_subset": {"tenant": "acme"}}, {"tenant": "other"}, False),
        ({"context_subset": {"tenant": "acme"}}, {}, False),
        ({"context_equals": {"tenant": "acme"}}, {"tenant": "acme"}, True),
        ({"context_equals": {"tenant": "acme"}}, {"tenant": "acme", "doc": "1"}, False),
        ({"context_equals": {}}, {}, True),
    ],
)
def test_encryption_context_constraints(
    constraint: dict[str, Any], context: dict[str, str], allowed: bool
) -> None:
    decision = decide(request(context=context), [grant(**constraint)])
    assert decision.allowed is allowed


def test_a_grant_never_allows_create_grant() -> None:
    assert decide(request(action="kms:CreateGrant"), [grant(ops=("CreateGrant",))]) is (
        Decision.IMPLICIT_DENY
    )


def test_malformed_grants_are_refused() -> None:
    with pytest.raises(InvalidInput):
        grant(ops=("Fly",))
    with pytest.raises(InvalidInput):
        grant(ops=())
    with pytest.raises(InvalidInput):
        grant(grantee="bob")
