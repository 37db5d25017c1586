"""The policy-evaluation vectors (tests/vectors/policy_eval.json), each a rule of AWS's
documented evaluation logic with a one-line "why"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from byok.core.policy.evaluate import (
    Decision,
    Grant,
    Request,
    assume_role_authorize,
    evaluate,
    kms_authorize,
    parse_policy,
)
from byok.errors import InvalidInput

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "policy_eval.json").read_text(encoding="utf-8")
)
CASES: list[dict[str, Any]] = VECTORS["cases"]
INVALID: list[dict[str, Any]] = VECTORS["invalid"]


def _request(data: dict[str, Any]) -> Request:
    return Request(
        principal_arns=tuple(data["principal_arns"]),
        principal_account=data["principal_account"],
        action=data["action"],
        resource=data["resource"],
        context=data.get("context", {}),
    )


def _grant(index: int, data: dict[str, Any]) -> Grant:
    return Grant(
        grant_id=f"g{index}",
        grantee_principal=data["grantee_principal"],
        operations=frozenset(data["operations"]),
        context_equals=data.get("context_equals"),
        context_subset=data.get("context_subset"),
    )


def _decide(case: dict[str, Any]) -> Decision:
    request = _request(case["request"])
    mode = case["mode"]
    if mode in ("resource", "identity"):
        return evaluate(parse_policy(case["policy"]), request, resource_policy=mode == "resource")
    identity = [parse_policy(p) for p in case["identity_policies"]]
    if mode == "kms":
        key_policy = parse_policy(case["key_policy"])
        grants = [_grant(i, g) for i, g in enumerate(case.get("grants", []))]
        account = case["key_account"]
        return kms_authorize(key_policy, identity, request, key_account=account, grants=grants)
    assert mode == "assume_role"
    trust = parse_policy(case["trust_policy"])
    return assume_role_authorize(trust, identity, request, role_account=case["role_account"])


def test_vector_file_is_large_and_well_formed() -> None:
    assert len(CASES) >= 200 and len(INVALID) >= 15
    names = [c["name"] for c in CASES + INVALID]
    assert len(names) == len(set(names))
    for case in CASES:
        assert case["why"] and case["expected"] in Decision.__members__
    outcomes = {c["expected"] for c in CASES}
    assert outcomes == set(Decision.__members__)
    # Vectors taken from the documentation name the guide page and the example.
    pages = set()
    for case in CASES + INVALID:
        if case["name"].startswith("doc-"):
            assert case["source"]["page"] and case["source"]["example"], case["name"]
            pages.add(case["source"]["page"].split(":")[0].split(" (")[0])
    for page in (
        "Policy evaluation logic",
        "AWS JSON policy elements",
        "IAM JSON policy elements",
        "Single-valued vs. multivalued context keys",
        "AWS KMS Developer Guide",
    ):
        assert page in pages, page


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_policy_vector(case: dict[str, Any]) -> None:
    decision = _decide(case)
    assert decision is Decision[case["expected"]], case["why"]
    assert decision.allowed is (case["expected"] == "ALLOW")


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_policy_vector(case: dict[str, Any]) -> None:
    source = case["policy_text"] if "policy_text" in case else case["policy"]
    with pytest.raises(InvalidInput) as caught:
        parse_policy(source, field="key_policy")
    assert caught.value.field == "key_policy"
    assert case["error_contains"] in caught.value.message, case["why"]


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_policy_vector_as_text(case: dict[str, Any]) -> None:
    """The same documents given as JSON text are refused the same way."""
    source = case["policy_text"] if "policy_text" in case else json.dumps(case["policy"])
    with pytest.raises(InvalidInput):
        parse_policy(source)
