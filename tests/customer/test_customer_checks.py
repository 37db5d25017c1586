"""The AWS-fact findings of ``byok customer audit`` (pure) and the exit-code mapping."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from byok.core.customer_audit import AuditReport, Finding, Severity
from byok.customer.audit import EXIT_CODES, exit_code_for
from byok.customer.checks import (
    KeyFacts,
    TrailFacts,
    external_id_findings,
    key_findings,
    role_findings,
    selectors_cover_kms,
    trail_findings,
    trust_external_ids,
)
from byok.errors import ERROR_TABLE

KEY = KeyFacts(
    arn="arn:aws:kms:us-east-1:111122223333:key/k",
    region="us-east-1",
    state="Enabled",
    spec="SYMMETRIC_DEFAULT",
    usage="ENCRYPT_DECRYPT",
    manager="CUSTOMER",
    origin="AWS_KMS",
    multi_region=False,
    rotation=True,
)


def _codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_a_good_key_has_no_finding() -> None:
    assert key_findings(KEY, expected_region="us-east-1") == []


@pytest.mark.parametrize(
    ("change", "code", "severity"),
    [
        ({"state": "PendingDeletion"}, "key-pending-deletion", Severity.CRITICAL),
        ({"state": "Disabled"}, "key-disabled", Severity.HIGH),
        ({"spec": "RSA_2048"}, "key-unsuitable", Severity.HIGH),
        ({"usage": "SIGN_VERIFY"}, "key-unsuitable", Severity.HIGH),
        ({"manager": "AWS"}, "key-unsuitable", Severity.HIGH),
        ({"region": "eu-west-1"}, "key-region", Severity.HIGH),
        ({"multi_region": True}, "key-multi-region", Severity.MEDIUM),
        ({"rotation": False}, "rotation-off", Severity.MEDIUM),
        ({"rotation": None}, "rotation-unknown", Severity.INFO),
        ({"origin": "EXTERNAL"}, "key-origin-external", Severity.INFO),
    ],
)
def test_each_key_problem_has_its_finding(
    change: dict[str, Any], code: str, severity: Severity
) -> None:
    found = key_findings(replace(KEY, **change), expected_region="us-east-1")
    assert _codes(found) == [code]
    assert found[0].severity is severity and found[0].fix


def test_missing_and_long_lived_client_roles() -> None:
    arn = "arn:aws:iam::111122223333:role/byok-client-role"
    assert _codes(role_findings(arn, None)) == ["client-role-missing"]
    assert role_findings(arn, {"MaxSessionDuration": 3600}) == []
    assert _codes(role_findings(arn, {"MaxSessionDuration": 43200})) == ["role-session-long"]


def _trust(*conditions: dict[str, Any], effect: str = "Allow") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": effect,
                "Principal": {"AWS": "arn:aws:iam::444455556666:role/d"},
                "Action": "sts:AssumeRole",
                "Condition": c,
            }
            for c in conditions
        ],
    }


def test_trust_external_ids_reads_every_operator_and_case() -> None:
    trust = _trust(
        {"StringEquals": {"sts:ExternalId": "one"}},
        {"StringLike": {"STS:externalid": ["two", "three"]}},
    )
    assert trust_external_ids(trust) == ["one", "two", "three"]
    assert (
        trust_external_ids(_trust({"StringEquals": {"sts:ExternalId": "x"}}, effect="Deny")) == []
    )


def test_external_id_typo_is_located_without_showing_either_value() -> None:
    expected = "byok-abcdefghijklmnop"
    typo = "byok-abcdefgXijklmnop"
    found = external_id_findings(_trust({"StringEquals": {"sts:ExternalId": typo}}), expected)
    assert _codes(found) == ["external-id-mismatch"]
    assert "character 13" in found[0].evidence
    assert expected not in found[0].evidence and typo not in found[0].evidence
    assert (
        external_id_findings(_trust({"StringEquals": {"sts:ExternalId": expected}}), expected) == []
    )
    # No External ID at all is the evaluator's finding (external-id-not-required), not this.
    assert external_id_findings(_trust({}), expected) == []


@pytest.mark.parametrize(
    ("selectors", "advanced", "covered"),
    [
        ([], [], True),
        ([{"ReadWriteType": "All", "IncludeManagementEvents": True}], [], True),
        ([{"ReadWriteType": "ReadOnly"}], [], True),
        ([{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}], [], False),
        ([{"ReadWriteType": "All", "IncludeManagementEvents": False}], [], False),
        (
            [{"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}],
            [],
            False,
        ),
        ([], [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}], True),
        (
            [],
            [{"FieldSelectors": [{"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}]}],
            False,
        ),
        ([], [{"FieldSelectors": [{"Field": "readOnly", "Equals": ["false"]}]}], False),
    ],
)
def test_event_selectors_that_miss_kms(
    selectors: list[dict[str, Any]], advanced: list[dict[str, Any]], covered: bool
) -> None:
    assert selectors_cover_kms(selectors, advanced) is covered


def test_trail_findings() -> None:
    assert trail_findings(TrailFacts(True, ("org",)), "us-east-1") == []
    idle = trail_findings(TrailFacts(True, (), ("old: not logging",)), "us-east-1")
    assert _codes(idle) == ["cloudtrail-not-logging"] and "old: not logging" in idle[0].evidence
    unknown = trail_findings(TrailFacts(False, evidence="AccessDenied"), "us-east-1")
    assert _codes(unknown) == ["cloudtrail-unknown"]
    assert unknown[0].severity is Severity.INFO


def test_exit_codes_follow_the_worst_severity_and_avoid_error_codes() -> None:
    def report(*severities: Severity) -> AuditReport:
        return AuditReport(tuple(Finding("c", s, "t", "e", "f") for s in severities))

    assert exit_code_for(report()) == 0
    assert exit_code_for(report(Severity.INFO)) == 0
    assert exit_code_for(report(Severity.LOW, Severity.INFO)) == 3
    assert exit_code_for(report(Severity.MEDIUM, Severity.LOW)) == 4
    assert exit_code_for(report(Severity.HIGH)) == 5
    assert exit_code_for(report(Severity.INFO, Severity.CRITICAL)) == 6
    error_codes = {m.exit_code for m in ERROR_TABLE.values()}
    assert not ({c for c in EXIT_CODES.values() if c} & error_codes)
