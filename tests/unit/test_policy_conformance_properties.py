"""Hypothesis properties that hold for AWS's evaluation logic, over documents that use the
finding classes of issue 13 (NotPrincipal, policy variables with no value, negated operators on
malformed values, set operators on empty sets, null / whitespace entries IAM accepts):

* adding a Deny statement (anywhere) never allows more;
* adding an Allow statement (anywhere) never denies more;
* a statement never applies to a principal its NotPrincipal names (every identity behind the
  request for a Deny, any of them for an Allow: "AWS JSON policy elements: NotPrincipal");
* adding a KMS grant never denies more, and never lifts an explicit deny.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from byok.core.policy.evaluate import (
    Decision,
    Grant,
    PolicyDocument,
    Request,
    evaluate,
    explain,
    kms_authorize,
    parse_policy,
)

A, V = "111122223333", "444455556666"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = f"arn:aws:iam::{V}:role/document-storage-role"
SESSION = f"arn:aws:sts::{V}:assumed-role/document-storage-role/tenant-acme"
CALLERS: list[tuple[str, ...]] = [
    (SESSION, ROLE),
    (f"arn:aws:iam::{A}:user/alice",),
    (f"arn:aws:iam::{A}:root",),
    (f"arn:aws:iam::{V}:user/bob",),
]
IDENTITIES = [SESSION, ROLE, f"arn:aws:iam::{A}:user/alice", f"arn:aws:iam::{V}:user/bob"]
ACTIONS = ["kms:Decrypt", "kms:Encrypt", "kms:DescribeKey"]
ACTION_PATTERNS = [*ACTIONS, "kms:*", "*", "kms: Decrypt", "kms:De crypt"]
RESOURCES: list[Any] = [
    "*",
    KEY,
    f"arn:aws:kms:*:{A}:key/*",
    None,
    [None, KEY],
    "arn:aws:kms:us-east-1:111122223333:key/${aws:PrincipalTag/team}",
    ["arn:aws:kms:us-east-1:111122223333:key/${aws:PrincipalTag/team}", "*"],
]
CONDITIONS: list[dict[str, Any]] = [
    {"StringNotEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/team}"}},
    {"StringEquals": {"kms:EncryptionContext:tenant": "${aws:PrincipalTag/team}"}},
    {"StringEquals": {"kms:EncryptionContext:tenant": "acme"}},
    {"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:*"}},
    {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    {"NumericNotEquals": {"s3:max-keys": "10"}},
    {"DateNotEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment"]}},
    {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["environment"]}},
    {"ForAllValues:Null": {"aws:TagKeys": "false"}},
    {"StringEquals": {"aws:PrincipalTag/team": []}},
    {"StringLike": {"aws:PrincipalTag/team": "${"}},
    {},
]
CONTEXT_VALUES: dict[str, list[Any]] = {
    "kms:EncryptionContext:tenant": ["acme", "other"],
    "aws:PrincipalTag/team": ["acme", ["a", "b"]],
    "aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:t", "not-an-arn"],
    "aws:SourceIp": ["203.0.113.9", "198.51.100.1", "garbage"],
    "s3:max-keys": ["10", "11", "ten"],
    "aws:CurrentTime": ["2020-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "yesterday"],
    "aws:TagKeys": [["environment"], ["environment", "x"], [""], []],
}

principal_values = st.sampled_from(
    ["*", {"AWS": V}, {"AWS": A}, *({"AWS": a} for a in IDENTITIES), {"AWS": [SESSION, ROLE, V]}]
)


@st.composite
def statements(draw: st.DrawFn, *, effect: str | None = None, resource_policy: bool = True) -> Any:
    body: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    actions = draw(st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2))
    body["NotAction" if draw(st.booleans()) else "Action"] = actions
    body["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = draw(
        st.sampled_from(RESOURCES)
    )
    if resource_policy:
        body["NotPrincipal" if draw(st.booleans()) else "Principal"] = draw(principal_values)
    condition = draw(st.sampled_from(CONDITIONS))
    if condition:
        body["Condition"] = condition
    return body


@st.composite
def requests(draw: st.DrawFn) -> Request:
    arns = draw(st.sampled_from(CALLERS))
    account = arns[0].split(":")[4]
    keys = draw(st.lists(st.sampled_from(sorted(CONTEXT_VALUES)), unique=True, max_size=4))
    context = {k: draw(st.sampled_from(CONTEXT_VALUES[k])) for k in keys}
    return Request(arns, account, draw(st.sampled_from(ACTIONS)), KEY, context)


def _policy(items: list[Any]) -> PolicyDocument:
    return parse_policy({"Version": "2012-10-17", "Statement": items})


def _decide(items: list[Any], request: Request) -> Decision:
    return evaluate(_policy(items), request, resource_policy=True)


def _allowed(decision: Decision) -> bool:
    return decision is Decision.ALLOW


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(statements(), min_size=1, max_size=4),
    extra=statements(effect="Deny"),
    position=st.integers(0, 4),
    request=requests(),
)
def test_adding_a_deny_never_allows_more(
    items: list[Any], extra: Any, position: int, request: Request
) -> None:
    before = _decide(items, request)
    after = _decide([*items[:position], extra, *items[position:]], request)
    assert not (_allowed(after) and not _allowed(before))
    if before is Decision.EXPLICIT_DENY:
        assert after is Decision.EXPLICIT_DENY


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(statements(), min_size=1, max_size=4),
    extra=statements(effect="Allow"),
    position=st.integers(0, 4),
    request=requests(),
)
def test_adding_an_allow_never_denies_more(
    items: list[Any], extra: Any, position: int, request: Request
) -> None:
    before = _decide(items, request)
    after = _decide([*items[:position], extra, *items[position:]], request)
    if _allowed(before):
        assert _allowed(after)
    assert (after is Decision.EXPLICIT_DENY) == (before is Decision.EXPLICIT_DENY)


@settings(max_examples=150, deadline=None)
@given(
    key_items=st.lists(statements(), min_size=1, max_size=3),
    id_items=st.lists(statements(resource_policy=False), min_size=1, max_size=2),
    extra=statements(),
    to_key_policy=st.booleans(),
    request=requests(),
)
def test_kms_authorize_is_monotone(
    key_items: list[Any],
    id_items: list[Any],
    extra: Any,
    to_key_policy: bool,
    request: Request,
) -> None:
    """Through kms_authorize (key policy + IAM) too: a Deny never allows more, an Allow never
    denies more, wherever it is added."""

    def decide(keys: list[Any], ids: list[Any]) -> Decision:
        return kms_authorize(_policy(keys), [_policy(ids)], request, key_account=A)

    if not to_key_policy:
        extra = {k: v for k, v in extra.items() if k not in ("Principal", "NotPrincipal")}
    before = decide(key_items, id_items)
    after = (
        decide([*key_items, extra], id_items)
        if to_key_policy
        else decide(key_items, [*id_items, extra])
    )
    if extra["Effect"] == "Deny":
        assert not (_allowed(after) and not _allowed(before))
    elif _allowed(before):
        assert _allowed(after)


@settings(max_examples=200, deadline=None)
@given(
    item=statements(),
    request=requests(),
    effect=st.sampled_from(["Allow", "Deny"]),
    named=st.data(),
)
def test_a_statement_never_matches_a_principal_its_notprincipal_names(
    item: Any, request: Request, effect: str, named: st.DataObject
) -> None:
    identities = [*request.principal_arns, request.principal_account]
    if effect == "Allow":  # any one identity behind the request excludes it
        listed = named.draw(st.lists(st.sampled_from(identities), min_size=1, unique=True))
    else:  # a Deny spares only a request whose every identity is listed
        listed = identities
    extra = named.draw(st.lists(st.sampled_from([ROLE, V, A]), max_size=2))
    statement = {k: v for k, v in item.items() if k not in ("Principal", "NotPrincipal")}
    statement.update(Effect=effect, NotPrincipal={"AWS": [*listed, *extra]})
    found = explain(_policy([statement]), request, resource_policy=True)
    assert not found.allows and not found.denies
    assert found.decision is Decision.IMPLICIT_DENY


grants = st.builds(
    lambda grantee, ops, subset: Grant(
        "g", grantee, frozenset(ops), context_subset={"tenant": subset} if subset else None
    ),
    st.sampled_from([*IDENTITIES, f"arn:aws:iam::{V}:root", f"arn:aws:iam::{A}:root"]),
    st.lists(st.sampled_from(["Decrypt", "Encrypt", "DescribeKey"]), min_size=1, unique=True),
    st.sampled_from([None, "acme", "other"]),
)


@settings(max_examples=150, deadline=None)
@given(
    key_items=st.lists(statements(), min_size=1, max_size=3),
    id_items=st.lists(statements(resource_policy=False), min_size=1, max_size=2),
    existing=st.lists(grants, max_size=2),
    extra=grants,
    request=requests(),
)
def test_a_grant_never_denies_more_and_never_lifts_an_explicit_deny(
    key_items: list[Any],
    id_items: list[Any],
    existing: list[Grant],
    extra: Grant,
    request: Request,
) -> None:
    def decide(with_grants: list[Grant]) -> Decision:
        return kms_authorize(
            _policy(key_items), [_policy(id_items)], request, key_account=A, grants=with_grants
        )

    before, after = decide(existing), decide([*existing, extra])
    if _allowed(before):
        assert _allowed(after)
    assert (after is Decision.EXPLICIT_DENY) == (before is Decision.EXPLICIT_DENY)
