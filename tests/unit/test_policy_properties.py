"""Hypothesis properties of the policy evaluator: deny is monotone, nothing unlisted is allowed,
hostile documents only ever raise InvalidInput, and wildcards agree with a reference."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from byok.core.policy.evaluate import (
    Decision,
    PolicyDocument,
    Request,
    evaluate,
    kms_authorize,
    parse_policy,
)
from byok.core.policy.wildcard import wildcard_match
from byok.errors import InvalidInput

A, V = "111122223333", "444455556666"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ARNS = [
    f"arn:aws:iam::{V}:role/document-storage-role",
    f"arn:aws:iam::{A}:user/alice",
    f"arn:aws:iam::{A}:root",
    f"arn:aws:iam::{V}:root",
]
ACTIONS = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:ReEncryptFrom",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "sts:AssumeRole",
    "s3:GetObject",
]
PATTERNS = [
    *ACTIONS,
    "kms:*",
    "*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:?ecrypt",
    "KMS:decrypt",
    "s3:*",
]
KEYS = ["kms:EncryptionContext:tenant", "sts:ExternalId", "aws:SecureTransport"]
OPERATORS = [
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringEqualsIgnoreCase",
    "StringEqualsIfExists",
    "ForAnyValue:StringEquals",
    "ForAllValues:StringLike",
    "Bool",
    "Null",
    "ArnLike",
]
VALUES = [
    "acme",
    "ACME",
    "ac*",
    "true",
    "false",
    "x",
    "${aws:PrincipalAccount}",
    "${kms:EncryptionContext:tenant, 'acme'}",
    "${*}",
    "${",
    "${missing}",
]

principals = st.sampled_from(
    [
        "*",
        {"AWS": "*"},
        {"AWS": V},
        {"AWS": A},
        {"Service": "kms.amazonaws.com"},
        *({"AWS": a} for a in ARNS),
    ]
)
conditions = st.dictionaries(
    st.sampled_from(OPERATORS),
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), min_size=1, max_size=2),
    max_size=2,
)


@st.composite
def statements(draw: st.DrawFn, *, resource_policy: bool, effect: str | None = None) -> Any:
    body: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    actions = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
    body["NotAction" if draw(st.booleans()) and effect is None else "Action"] = actions
    body["Resource"] = draw(
        st.sampled_from(
            ["*", KEY, f"arn:aws:kms:*:{A}:key/*", "arn:aws:kms:*:${aws:PrincipalAccount}:key/*"]
        )
    )
    if resource_policy:
        body["Principal"] = draw(principals)
    cond = draw(conditions)
    if cond and not any(op in ("Bool", "Null") for op in cond):
        body["Condition"] = cond
    return body


def _policy(items: list[Any]) -> PolicyDocument:
    return parse_policy({"Version": "2012-10-17", "Statement": items})


@st.composite
def requests(draw: st.DrawFn) -> Request:
    arn = draw(st.sampled_from(ARNS))
    account = arn.split(":")[4]
    context = draw(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3))
    return Request((arn,), account, draw(st.sampled_from(ACTIONS)), KEY, context)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(statements(resource_policy=True), min_size=1, max_size=4),
    extra_deny=statements(resource_policy=True, effect="Deny"),
    request=requests(),
)
def test_adding_a_deny_never_produces_allow(
    items: list[Any], extra_deny: Any, request: Request
) -> None:
    before = evaluate(_policy(items), request, resource_policy=True)
    after = evaluate(_policy([*items, extra_deny]), request, resource_policy=True)
    if before is not Decision.ALLOW:
        assert after is not Decision.ALLOW
    matching = {"Effect": "Deny", "Principal": "*", "Action": request.action, "Resource": "*"}
    assert evaluate(_policy([*items, matching]), request, resource_policy=True) is (
        Decision.EXPLICIT_DENY
    )


@settings(max_examples=200, deadline=None)
@given(
    key_items=st.lists(statements(resource_policy=True), min_size=1, max_size=3),
    id_items=st.lists(statements(resource_policy=False), min_size=1, max_size=3),
    request=requests(),
    deny_in_key_policy=st.booleans(),
)
def test_a_matching_deny_anywhere_wins_in_kms(
    key_items: list[Any], id_items: list[Any], request: Request, deny_in_key_policy: bool
) -> None:
    deny: dict[str, Any] = {"Effect": "Deny", "Action": request.action, "Resource": "*"}
    if deny_in_key_policy:
        key_items = [*key_items, {**deny, "Principal": {"AWS": request.principal_account}}]
    else:
        id_items = [*id_items, deny]
    decision = kms_authorize(_policy(key_items), [_policy(id_items)], request, key_account=A)
    assert decision is Decision.EXPLICIT_DENY


def _reference(pattern: str, text: str, ignore_case: bool) -> bool:
    """The obvious regex translation (every non-wildcard character escaped)."""
    if ignore_case:
        pattern, text = pattern.lower(), text.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


@settings(max_examples=500, deadline=None)
@given(
    pattern=st.text(alphabet="ab*?.[]\\:", max_size=8),
    text=st.text(alphabet="abAB.[]\\:", max_size=10),
    ignore_case=st.booleans(),
)
def test_wildcard_agrees_with_reference(pattern: str, text: str, ignore_case: bool) -> None:
    assert wildcard_match(pattern, text, ignore_case=ignore_case) is _reference(
        pattern, text, ignore_case
    )


action_names = st.from_regex(r"[a-z0-9-]{1,8}:[A-Za-z0-9]{1,12}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    listed=st.lists(action_names, min_size=1, max_size=5),
    requested=action_names,
    resource_policy=st.booleans(),
)
def test_never_allows_an_unlisted_action(
    listed: list[str], requested: str, resource_policy: bool
) -> None:
    if requested.lower() in {a.lower() for a in listed}:
        requested = requested + "X"
    body: dict[str, Any] = {"Effect": "Allow", "Action": listed, "Resource": "*"}
    if resource_policy:
        body["Principal"] = "*"
    request = Request((ARNS[0],), V, requested, KEY)
    assert evaluate(_policy([body]), request, resource_policy=resource_policy) is (
        Decision.IMPLICIT_DENY
    )


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "Allow",
            "Deny",
            "*",
            "kms:Decrypt",
            KEY,
            V,
            "2012-10-17",
            f"arn:aws:iam::{V}:role/r",
            "StringEquals",
            "true",
        ]
    )
)
element_names = st.sampled_from(
    [
        "Version",
        "Statement",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
        "Sid",
        "AWS",
        "Service",
        "StringEquals",
        "ForAnyValue:StringLike",
        "Null",
        "Bool",
        "sts:ExternalId",
    ]
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(element_names | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(document=json_values, request=requests(), resource_policy=st.booleans())
def test_hostile_documents_only_raise_invalid_input(
    document: Any, request: Request, resource_policy: bool
) -> None:
    wrapped = {"Version": "2012-10-17", "Statement": document}
    for source in (document, wrapped, json.dumps(document), json.dumps(wrapped)):
        try:
            policy = parse_policy(source)
            evaluate(policy, request, resource_policy=resource_policy)
            kms_authorize(policy, [], request, key_account=A)
        except InvalidInput:
            pass


@settings(max_examples=300, deadline=None)
@given(items=st.lists(statements(resource_policy=True), min_size=1, max_size=4), request=requests())
def test_generated_documents_are_accepted_and_decide(items: list[Any], request: Request) -> None:
    decision = evaluate(_policy(items), request, resource_policy=True)
    assert isinstance(decision, Decision)


@settings(max_examples=300, deadline=None)
@given(arns=json_values, account=json_values, action=json_values, context=json_values)
def test_hostile_requests_only_raise_invalid_input(
    arns: Any, account: Any, action: Any, context: Any
) -> None:
    policy = _policy([{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}])
    try:
        request = Request(arns, account, action, KEY, context)
    except InvalidInput:
        return
    assert evaluate(policy, request, resource_policy=True) is Decision.ALLOW
