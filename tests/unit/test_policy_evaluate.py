"""Unit tests of the policy parser and evaluator beyond the data vectors."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import byok.core.policy.evaluate as evaluate_module
from byok.core.policy.conditions import parse_operator, supported_operators
from byok.core.policy.document import MAX_POLICY_BYTES
from byok.core.policy.evaluate import (
    Decision,
    PrincipalMatch,
    Request,
    assume_role_authorize,
    evaluate,
    explain,
    kms_authorize,
    parse_policy,
    validate_policy_type,
)
from byok.core.policy.wildcard import arn_match, wildcard_match
from byok.errors import InvalidInput

A, V = "111122223333", "444455556666"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VROLE = f"arn:aws:iam::{V}:role/document-storage-role"
VSESS = f"arn:aws:sts::{V}:assumed-role/document-storage-role/tenant-acme"
VENDOR = Request((VSESS, VROLE), V, "kms:Decrypt", KEY)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(**extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": VROLE},
        "Action": "kms:Decrypt",
        "Resource": "*",
        **extra,
    }


def test_public_names_match_all() -> None:
    public = {n for n in dir(evaluate_module) if not n.startswith("_")}
    exported = set(evaluate_module.__all__)
    assert exported <= public
    assert {
        "Request",
        "Decision",
        "evaluate",
        "parse_policy",
        "kms_authorize",
        "assume_role_authorize",
        "PolicyDocument",
        "Statement",
        "explain",
    } <= exported


def test_parse_keeps_sid_index_and_version() -> None:
    doc = parse_policy(json.dumps(_policy(_allow(Sid="Vendor"), _allow())))
    assert doc.version == "2012-10-17"
    assert [s.label for s in doc.statements] == ["Vendor", "#1"]
    assert doc.statements[0].principal is not None
    assert doc.statements[0].principal.arns == frozenset({VROLE})


def test_single_statement_object_and_missing_version() -> None:
    doc = parse_policy({"Statement": _allow()})
    assert doc.version == "2008-10-17" and len(doc.statements) == 1


def test_bare_account_and_root_arn_are_one_account() -> None:
    doc = parse_policy(_policy(_allow(Principal={"AWS": [A, f"arn:aws:iam::{A}:root"]})))
    principal = doc.statements[0].principal
    assert principal is not None and principal.accounts == frozenset({A})


def test_size_limit_is_32_kib() -> None:
    padding = "x" * MAX_POLICY_BYTES
    with pytest.raises(InvalidInput, match="larger than 32768 bytes"):
        parse_policy(_policy(_allow(Sid=padding)))
    base = json.dumps(_policy(_allow(Sid="")), separators=(",", ":"))
    exact = json.dumps(
        _policy(_allow(Sid="s" * (MAX_POLICY_BYTES - len(base)))), separators=(",", ":")
    )
    assert len(exact.encode()) == MAX_POLICY_BYTES
    assert parse_policy(exact).statements[0].sid is not None


def test_size_counts_utf8_bytes_not_characters() -> None:
    text = json.dumps(_policy(_allow(Sid="é" * (MAX_POLICY_BYTES // 2))), ensure_ascii=False)
    assert len(text) < MAX_POLICY_BYTES < len(text.encode())
    with pytest.raises(InvalidInput, match="larger than"):
        parse_policy(text)


@pytest.mark.parametrize("value", [b"{}", 42, None, ["Statement"]])
def test_wrong_input_type(value: Any) -> None:
    with pytest.raises(InvalidInput, match="expected JSON text or a mapping"):
        parse_policy(value)


def test_deep_nesting_is_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidInput):
        parse_policy("[" * 20000 + "]" * 20000)
    nested: dict[str, Any] = {}
    for _ in range(5000):
        nested = {"a": nested}
    with pytest.raises(InvalidInput):
        parse_policy(nested)


def test_mapping_with_non_json_values_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_policy(_policy(_allow(Action={"kms:Decrypt"})))
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_policy(_policy(_allow(Sid=float("nan"))))


def test_field_name_is_reported() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_policy("nope", field="trust_policy")
    assert caught.value.field == "trust_policy"
    assert caught.value.to_dict()["field"] == "trust_policy"
    assert "Fix:" in str(caught.value)


def test_condition_numbers_and_booleans_become_text() -> None:
    doc = parse_policy(
        _policy(
            _allow(
                Condition={
                    "Bool": {"aws:SecureTransport": False},
                    "NumericLessThan": {"kms:GrantConstraintCount": [3, 4.5]},
                }
            )
        )
    )
    values = {c.key: c.values for c in doc.statements[0].conditions}
    assert values == {"aws:SecureTransport": ("false",), "kms:GrantConstraintCount": ("3", "4.5")}


def test_identity_policy_with_principal_is_refused_at_evaluation() -> None:
    doc = parse_policy(_policy(_allow()))
    with pytest.raises(InvalidInput, match="identity policy has a Principal"):
        evaluate(doc, VENDOR, resource_policy=False)


def test_identity_policy_without_resource_is_refused() -> None:
    doc = parse_policy(_policy({"Effect": "Allow", "Action": "kms:*"}))
    with pytest.raises(InvalidInput, match="has no Resource"):
        evaluate(doc, VENDOR, resource_policy=False)


def test_resource_policy_without_principal_is_refused() -> None:
    doc = parse_policy(_policy({"Effect": "Deny", "Action": "kms:*", "Resource": "*"}))
    with pytest.raises(InvalidInput, match="has no Principal"):
        evaluate(doc, VENDOR, resource_policy=True)


def test_explain_names_matched_statements() -> None:
    doc = parse_policy(
        _policy(
            _allow(Sid="Vendor"),
            {"Effect": "Allow", "Principal": {"AWS": V}, "Action": "kms:*", "Resource": "*"},
            {
                "Sid": "NoDelete",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Schedule*",
                "Resource": "*",
            },
        )
    )
    result = explain(doc, VENDOR, resource_policy=True)
    assert result.decision is Decision.ALLOW and result.direct_allow
    assert [(m.label, m.principal) for m in result.allows] == [
        ("Vendor", PrincipalMatch.CALLER),
        ("#1", PrincipalMatch.ACCOUNT),
    ]
    assert result.denies == ()
    deleting = Request((VSESS, VROLE), V, "kms:ScheduleKeyDeletion", KEY)
    result = explain(doc, deleting, resource_policy=True)
    assert result.decision is Decision.EXPLICIT_DENY
    assert [m.label for m in result.denies] == ["NoDelete"]
    assert [m.label for m in result.allows] == ["#1"] and not result.direct_allow


def test_validate_policy_type_names_the_field() -> None:
    key_policy = parse_policy(_policy(_allow()))
    validate_policy_type(key_policy, resource_policy=True)
    with pytest.raises(InvalidInput, match=r"Statement\[0\] of an identity policy") as caught:
        validate_policy_type(key_policy, resource_policy=False, field="identity_policy")
    assert caught.value.field == "identity_policy"


def test_decision_allowed_property() -> None:
    assert Decision.ALLOW.allowed
    assert not Decision.EXPLICIT_DENY.allowed and not Decision.IMPLICIT_DENY.allowed


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"principal_arns": ()}, "principal_arns"),
        ({"principal_arns": VROLE}, "principal_arns"),
        ({"principal_arns": (VROLE, 7)}, "principal_arns"),
        ({"principal_arns": ("alice",)}, "not an IAM or STS ARN"),
        ({"principal_arns": (f"arn:aws:iam::{A}:root",)}, "not of principal_account"),
        (
            {"principal_arns": (VSESS, f"arn:aws:iam::{A}:role/document-storage-role")},
            "not of principal_account",
        ),
        ({"action": "kms:*"}, "without wildcards"),
        ({"action": "Decrypt"}, "service:Action"),
        ({"principal_account": "4444"}, "principal_account"),
        ({"action": ""}, "action"),
        ({"resource": None}, "resource"),
        ({"context": ["a"]}, "context"),
        ({"context": {"k": 1}}, "context value"),
        ({"context": {"K": "a", "k": "b"}}, "given twice"),
    ],
)
def test_request_is_validated(kwargs: dict[str, Any], needle: str) -> None:
    base: dict[str, Any] = {
        "principal_arns": (VROLE,),
        "principal_account": V,
        "action": "kms:Decrypt",
        "resource": KEY,
    }
    with pytest.raises(InvalidInput, match=needle) as caught:
        Request(**{**base, **kwargs})
    assert caught.value.field == "request"


def test_request_defaults_global_principal_keys() -> None:
    assert VENDOR.values("aws:principalarn") == (VROLE,)
    assert VENDOR.values("AWS:PrincipalAccount") == (V,)
    given = Request((VROLE,), V, "kms:Decrypt", KEY, {"aws:PrincipalArn": "x"})
    assert given.values("aws:principalarn") == ("x",)
    empty = Request((VROLE,), V, "kms:Decrypt", KEY, {"kms:EncryptionContextKeys": []})
    assert empty.values("kms:EncryptionContextKeys") is None


def test_request_context_is_a_snapshot() -> None:
    context: dict[str, Any] = {"kms:EncryptionContextKeys": ["tenant"]}
    request = Request((VROLE,), V, "kms:Decrypt", KEY, context)
    context["kms:EncryptionContextKeys"].append("owner")
    context["sts:ExternalId"] = "late"
    assert request.values("kms:EncryptionContextKeys") == ("tenant",)
    assert request.values("sts:ExternalId") is None
    assert "sts:ExternalId" not in request.context
    assert request.with_default_context({"sts:ExternalId": "x"}).values("sts:externalid") == ("x",)


def test_kms_caller_account_is_not_overridden() -> None:
    doc = parse_policy(
        _policy(_allow(Principal="*", Condition={"StringEquals": {"kms:CallerAccount": A}}))
    )
    forged = Request((VSESS, VROLE), V, "kms:Decrypt", KEY, {"kms:CallerAccount": A})
    identity = [parse_policy(_policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}))]
    # The emulator passes what KMS saw; the evaluator only fills the key in when absent.
    assert kms_authorize(doc, identity, forged, key_account=A) is Decision.ALLOW
    assert kms_authorize(doc, identity, VENDOR, key_account=A) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("account", ["", "4444", 444455556666])
def test_owner_account_is_validated(account: Any) -> None:
    doc = parse_policy(_policy(_allow()))
    with pytest.raises(InvalidInput) as caught:
        kms_authorize(doc, [], VENDOR, key_account=account)
    assert caught.value.field == "key_account"
    with pytest.raises(InvalidInput) as caught:
        assume_role_authorize(doc, [], VENDOR, role_account=account)
    assert caught.value.field == "role_account"


def test_identity_allow_on_other_action_does_not_help() -> None:
    key_policy = parse_policy(_policy(_allow(Principal={"AWS": V}, Action="kms:*")))
    encrypt_only = parse_policy(
        _policy({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": KEY})
    )
    assert kms_authorize(key_policy, [encrypt_only], VENDOR, key_account=A) is (
        Decision.IMPLICIT_DENY
    )


# --- wildcard matcher -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*", "", True),
        ("", "", True),
        ("", "a", False),
        ("a*", "a", True),
        ("*a", "ba", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXbYY", False),
        ("**", "abc", True),
        ("a.c", "abc", False),
        ("[a]", "a", False),
        ("[a]", "[a]", True),
    ],
)
def test_wildcard_cases(pattern: str, text: str, expected: bool) -> None:
    assert wildcard_match(pattern, text) is expected


def test_wildcard_has_no_catastrophic_backtracking() -> None:
    pattern = "*a" * 60 + "*b"
    text = "a" * 20000
    started = time.perf_counter()
    assert not wildcard_match(pattern, text)
    assert time.perf_counter() - started < 2.0


def test_arn_match_is_per_component() -> None:
    assert arn_match("arn:aws:iam::*:role/r", f"arn:aws:iam::{V}:role/r")
    # '*' in one component does not swallow colons of the next ones.
    assert not arn_match("arn:aws:*", f"arn:aws:iam::{V}:role/r")
    assert arn_match("*", "anything")
    assert not arn_match("arn:aws:iam::*:role/r", "role/r")
    assert arn_match("arn:aws:s3:::bucket/a:b", "arn:aws:s3:::bucket/a:b")


# --- operators ------------------------------------------------------------------------


def test_operator_names_parse_exactly() -> None:
    spec = parse_operator("ForAnyValue:StringLikeIfExists")
    assert spec is not None
    assert (spec.base, spec.set_operator, spec.if_exists) == ("StringLike", "ForAnyValue", True)
    for wrong in (
        "stringequals",
        "StringEquals ",
        "Null IfExists",
        "IfExists",
        "ForAnyValue:",
        ":StringEquals",
        "NullIfExists",
    ):
        assert parse_operator(wrong) is None, wrong
    assert "Null" in supported_operators() and "StringEquals" in supported_operators()


def _holds(operator: str, key: str, value: Any, context: dict[str, Any]) -> bool:
    doc = parse_policy(_policy(_allow(Condition={operator: {key: value}})))
    request = Request((VSESS, VROLE), V, "kms:Decrypt", KEY, context)
    return evaluate(doc, request, resource_policy=True) is Decision.ALLOW


@pytest.mark.parametrize(
    ("operator", "policy_value", "request_value", "expected"),
    [
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericGreaterThanEquals", "10", "10", True),
        ("NumericEquals", "10", "ten", False),
        ("NumericEquals", "1000", "1_000", False),
        ("NumericLessThan", "10", "nan", False),
        ("NumericGreaterThan", "-1", "-0.5", True),
        ("NumericNotEquals", "10", "11", True),
        ("DateLessThan", "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", True),
        ("DateGreaterThan", "2026-01-01T00:00:00Z", "1767225601", True),
        ("DateEquals", "2026-01-01T00:00:00Z", "not a date", False),
        ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
        ("IpAddress", "203.0.113.0/24", "198.51.100.7", False),
        ("NotIpAddress", "203.0.113.0/24", "198.51.100.7", True),
        ("IpAddress", "2001:db8::/32", "2001:db8::1", True),
        ("IpAddress", "203.0.113.0/24", "garbage", False),
        ("BinaryEquals", "QmluYXJ5", "QmluYXJ5", True),
    ],
)
def test_other_operators(
    operator: str, policy_value: str, request_value: str, expected: bool
) -> None:
    assert _holds(operator, "k", policy_value, {"k": request_value}) is expected


def test_plain_operator_on_multivalued_key() -> None:
    assert _holds("StringEquals", "k", "a", {"k": ["b", "a"]})
    assert not _holds("StringNotEquals", "k", "a", {"k": ["b", "a"]})
    assert _holds("StringNotEquals", "k", "a", {"k": ["b", "c"]})
