"""Policy variables: substitution, literal results, failure as "statement does not apply"."""

from __future__ import annotations

import pytest

from byok.core.policy.evaluate import Decision, Request, evaluate, parse_policy
from byok.core.policy.variables import LITERAL_STAR, literal, substitute
from byok.core.policy.wildcard import wildcard_match

VALUES = {"aws:username": ("alice",), "aws:principaltag/team": ("a", "b"), "k": ("x*y",)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("home/${aws:username}/*", "home/alice/*"),
        ("home/${AWS:UserName}", "home/alice"),
        ("${ aws:username }", "alice"),
        ("${missing, 'anon'}", "anon"),
        ("${missing , 'it''s'}", "it's"),
        ("${aws:PrincipalTag/team, 'multi'}", "multi"),
        ("${$}{x}", "${x}"),
        ("${missing, '${aws:username}'}", None),  # '}' ends the variable: malformed
        ("${missing}", None),
        ("${aws:PrincipalTag/team}", None),  # multi-valued keys cannot be substituted
        ("${}", None),
        ("${bad name}", None),
        ("${missing, anon}", None),
        ("${aws:username", None),
    ],
)
def test_substitute(text: str, expected: str | None) -> None:
    result = substitute(text, VALUES)
    assert (literal(result) if result is not None else None) == expected


def test_substituted_wildcards_are_literal() -> None:
    pattern = substitute("a/${k}", VALUES)
    assert pattern == f"a/x{LITERAL_STAR}y"
    assert wildcard_match(pattern, "a/x*y")
    assert not wildcard_match(pattern, "a/xzzy")
    assert not wildcard_match(pattern, "a/x\ue000y")
    assert wildcard_match(substitute("a/${?}*", VALUES) or "", "a/?anything")


def test_variables_are_bound_per_request() -> None:
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*",
            },
        }
    )
    assert doc.statements[0].uses_variables
    for account, expected in (
        ("111122223333", Decision.ALLOW),
        ("444455556666", Decision.IMPLICIT_DENY),
    ):
        request = Request(
            (f"arn:aws:iam::{account}:user/u",),
            account,
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111122223333:key/k",
        )
        assert evaluate(doc, request, resource_policy=False) is expected
    # The parsed document is unchanged by evaluation.
    assert doc.statements[0].resource == ("arn:aws:kms:us-east-1:${aws:PrincipalAccount}:key/*",)


def test_2008_policies_do_not_use_variables() -> None:
    doc = parse_policy(
        {
            "Version": "2008-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "arn:aws:kms:*:${x}:key/*",
            },
        }
    )
    assert not doc.statements[0].uses_variables
