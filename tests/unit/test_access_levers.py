"""The customer's levers: Deny statements on byok:scope, byok:period and byok:reason in every
generated policy, validated input, idempotent merge, and the audit's explanation of them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from byok.core.customer_audit import Severity, audit_policy_file
from byok.core.policy.templates import (
    AccessLevers,
    CustomerSetup,
    VendorIdentity,
    client_permissions_policy,
    client_trust_policy,
    cloudformation_template,
    handover_config,
    merge_key_policy,
    new_key_policy,
    terraform_config,
)
from byok.core.policy.templates.levers import period_patterns, validate_period
from byok.core.tenant_config import AccessMode
from byok.errors import InvalidInput

C, V = "111122223333", "444455556666"
KEY = f"arn:aws:kms:us-east-1:{C}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXT = "byok-Zx9_tenant-acme-external-id"
VENDOR = VendorIdentity(V)
LEVERS = AccessLevers(
    deny_scopes=("hr", "legal"), deny_periods=("2026-10",), deny_reasons=("vendor-support",)
)


def _setup(mode: AccessMode = "direct", levers: AccessLevers = LEVERS, **kw: Any) -> CustomerSetup:
    external_id = EXT if mode == "assume-role" else None
    return CustomerSetup("acme", mode, C, external_id=external_id, levers=levers, **kw)


def _denies(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s["Effect"] == "Deny"]


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_each_lever_is_one_deny_on_the_key_user(mode: AccessMode) -> None:
    policy = new_key_policy(VENDOR, _setup(mode))
    denies = _denies(policy)
    assert [next(iter(s["Condition"].values())) for s in denies] == [
        {"kms:EncryptionContext:byok:scope": ["hr", "legal"]},
        {"kms:EncryptionContext:byok:period": ["2026-10", "2026-10-*", "2026-10T*"]},
        {"kms:EncryptionContext:byok:reason": ["vendor-support"]},
    ]
    user = next(s for s in policy["Statement"] if "for this tenant only" in s["Sid"])
    for deny in denies:
        assert deny["Principal"] == user["Principal"]  # the key user, nobody else
        assert "kms:DescribeKey" not in deny["Action"] and "kms:Decrypt" in deny["Action"]


def test_no_levers_means_no_deny_statement() -> None:
    assert _denies(new_key_policy(VENDOR, _setup(levers=AccessLevers()))) == []


def test_require_context_adds_one_null_deny_per_key_sparing_the_audit_anchor() -> None:
    policy = new_key_policy(VENDOR, _setup(levers=AccessLevers(require_context=True)))
    nulls = [s["Condition"]["Null"] for s in _denies(policy)]
    assert [sorted(n) for n in nulls] == [
        ["kms:EncryptionContext:byok:audit-head", f"kms:EncryptionContext:byok:{key}"]
        for key in ("scope", "period", "reason")
    ]


def test_templates_carry_the_same_denies() -> None:
    setup = _setup()
    template = json.dumps(cloudformation_template(VENDOR, setup))
    terraform = terraform_config(VENDOR, setup)
    for needle in ("byok:scope", "2026-10T*", "vendor-support", "Deny"):
        assert needle in template and needle in terraform


def test_merge_is_idempotent_and_removing_a_lever_removes_its_deny() -> None:
    existing = {"Version": "2012-10-17", "Statement": [{"Sid": "Keep", "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{C}:root"}, "Action": "kms:*",
                "Resource": "*"}]}  # fmt: skip
    setup = _setup(key_arn=KEY)
    once = merge_key_policy(existing, VENDOR, setup)
    assert merge_key_policy(once, VENDOR, setup) == once
    assert len(_denies(once)) == 3
    relaxed = merge_key_policy(once, VENDOR, _setup(key_arn=KEY, levers=AccessLevers()))
    assert _denies(relaxed) == [] and relaxed["Statement"][0]["Sid"] == "Keep"


@pytest.mark.parametrize(
    ("levers", "field"),
    [
        ({"deny_scopes": ("bad scope",)}, "deny_scope"),
        ({"deny_scopes": ("",)}, "deny_scope"),
        ({"deny_periods": ("2026-13",)}, "deny_period"),
        ({"deny_periods": ("Nov 2026",)}, "deny_period"),
        ({"deny_periods": ("2026-11-05T24",)}, "deny_period"),
        ({"deny_reasons": ("curiosity",)}, "deny_reason"),
    ],
)
def test_malformed_levers_are_refused_naming_the_field(levers: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        AccessLevers(**levers)
    assert caught.value.field == field and caught.value.fix


def test_period_forms() -> None:
    for period in ("2026", "2026-11", "2026-11-05", "2026-11-05T10"):
        assert validate_period(period) == period
    assert period_patterns("2026-11") == ["2026-11", "2026-11-*", "2026-11T*"]


def _audit_file(setup: CustomerSetup) -> dict[str, Any]:
    data = handover_config(setup, KEY) | {"key_policy": new_key_policy(VENDOR, setup)}
    if setup.mode == "assume-role":
        adopted = CustomerSetup(
            "acme", "assume-role", C, key_arn=KEY, external_id=EXT, levers=setup.levers
        )
        data["trust_policy"] = client_trust_policy(VENDOR, adopted)
        data["permissions_policies"] = [client_permissions_policy(VENDOR, adopted)]
    return json.loads(json.dumps(data))


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_audit_explains_the_levers_and_warns_they_can_be_sidestepped(mode: AccessMode) -> None:
    report = audit_policy_file(_audit_file(_setup(mode)), VENDOR)
    by_code = {f.code: f for f in report.findings}
    explained = by_code["access-levers"]
    assert explained.severity == Severity.INFO
    assert "allowed: customer-request, vendor-service; denied: vendor-support" in explained.evidence
    assert "Scopes denied: hr, legal" in explained.evidence
    assert "Periods denied: 2026-10" in explained.evidence
    assert by_code["levers-can-be-sidestepped"].severity == Severity.MEDIUM
    assert "vendor-cannot-use-key" not in by_code


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_strict_levers_cannot_be_sidestepped_and_the_vendor_still_works(mode: AccessMode) -> None:
    strict = AccessLevers(deny_reasons=("vendor-support",), require_context=True)
    report = audit_policy_file(_audit_file(_setup(mode, levers=strict)), VENDOR)
    codes = {f.code for f in report.findings}
    assert "access-levers" in codes
    assert "levers-can-be-sidestepped" not in codes and "vendor-cannot-use-key" not in codes


def test_the_cli_says_what_a_lever_does_not_reach() -> None:
    from typer.testing import CliRunner

    from byok.cli.main import app
    from byok.core.policy.templates.levers import LEVER_NOTES

    base = ["customer", "policy", "--mode", "direct", "--vendor-account", V, "--tenant",
            "acme", "--key-arn", KEY, "--document", "key-policy-statements.json"]  # fmt: skip
    quiet = CliRunner().invoke(
        app, [*base, "--deny-period", "2026-10", "--deny-reason", "vendor-support"]
    )
    assert quiet.exit_code == 0 and "NOTE" not in quiet.output and "WARNING" not in quiet.output
    loud = CliRunner().invoke(app, [*base, "--deny-scope", "hr", "--require-context"])
    assert loud.exit_code == 0
    flat = " ".join(loud.output.split())
    assert " ".join(LEVER_NOTES["scope"].split()) in flat
    assert " ".join(LEVER_NOTES["strict"].split()) in flat
