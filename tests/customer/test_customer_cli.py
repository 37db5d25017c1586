"""``byok customer`` end to end: from ``--help`` to a set-up the vendor can use, per the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from customer_world import EXTERNAL_ID, STORAGE_ROLE, Vendor, start_trail, vendor_round_trip
from typer.testing import CliRunner

from byok.cli.main import app
from byok.core.policy.templates import (
    CustomerSetup,
    VendorIdentity,
    cloudformation_template,
    customer_kit,
    terraform_config,
)

VENDOR = "444455556666"
CUSTOMER = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{CUSTOMER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, ["customer", *args], env=env, catch_exceptions=False)


def _aws_env(local_aws: Any, account: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": f"ROOT{account}",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "BYOK_AWS_ENDPOINT_URL": local_aws.endpoint_url,
    }


# -- help and documents (no AWS) -------------------------------------------------------------


@pytest.mark.parametrize("command", ["policy", "setup", "audit", "activity"])
def test_help_teaches_with_examples(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"byok customer {command}" in result.output


def test_group_help_lists_the_four_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in ("policy", "setup", "audit", "activity"):
        assert command in result.output


def test_policy_prints_exactly_the_templates_documents() -> None:
    result = run(
        "policy",
        "--mode",
        "assume-role",
        "--vendor-account",
        VENDOR,
        "--tenant",
        "acme",
        "--key-arn",
        KEY,
        "--external-id",
        EXTERNAL_ID,
    )
    assert result.exit_code == 0
    setup = CustomerSetup(
        tenant="acme",
        mode="assume-role",
        customer_account=CUSTOMER,
        key_arn=KEY,
        external_id=EXTERNAL_ID,
    )
    kit = customer_kit(VendorIdentity(VENDOR), setup)
    assert json.loads(result.stdout) == {k: json.loads(v) for k, v in kit.items()}


@pytest.mark.parametrize(
    "document",
    ["key-policy-statements.json", "trust-policy.json", "permissions-policy.json", "handover.json"],
)
def test_policy_prints_one_document_byte_for_byte(document: str) -> None:
    result = run(
        "policy",
        "--mode",
        "assume-role",
        "--vendor-account",
        VENDOR,
        "--tenant",
        "acme",
        "--key-arn",
        KEY,
        "--external-id",
        EXTERNAL_ID,
        "--document",
        document,
    )
    setup = CustomerSetup(
        tenant="acme",
        mode="assume-role",
        customer_account=CUSTOMER,
        key_arn=KEY,
        external_id=EXTERNAL_ID,
    )
    assert result.exit_code == 0
    assert result.stdout == customer_kit(VendorIdentity(VENDOR), setup)[document]


def test_policy_templates_for_a_new_key() -> None:
    common = [
        "policy",
        "--mode",
        "direct",
        "--vendor-account",
        VENDOR,
        "--tenant",
        "acme",
        "--account",
        CUSTOMER,
        "--admin",
        f"arn:aws:iam::{CUSTOMER}:role/KeyAdmin",
    ]
    setup = CustomerSetup(
        tenant="acme",
        mode="direct",
        customer_account=CUSTOMER,
        admins=(f"arn:aws:iam::{CUSTOMER}:role/KeyAdmin",),
    )
    cfn = run(*common, "--format", "cloudformation")
    assert cfn.exit_code == 0
    assert json.loads(cfn.stdout) == cloudformation_template(VendorIdentity(VENDOR), setup)
    terraform = run(*common, "--format", "terraform")
    assert terraform.stdout == terraform_config(VendorIdentity(VENDOR), setup)


def test_policy_writes_the_kit(tmp_path: Path) -> None:
    result = run(
        "policy",
        "--mode",
        "direct",
        "--vendor-account",
        VENDOR,
        "--tenant",
        "acme",
        "--account",
        CUSTOMER,
        "--out",
        str(tmp_path / "kit"),
    )
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "kit").iterdir()) == [
        "cloudformation.json",
        "key-policy-statements.json",
        "key-policy.json",
        "main.tf",
    ]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--mode", "assume-role", "--account", CUSTOMER], "external_id"),
        (["--mode", "direct", "--account", "12345"], "customer_account"),
        (["--mode", "direct"], "account"),
        (["--mode", "sideways", "--account", CUSTOMER], "mode"),
        (["--mode", "direct", "--account", CUSTOMER, "--document", "nope.json"], "document"),
        (["--mode", "direct", "--key-arn", KEY, "--format", "cloudformation"], "key_arn"),
        (["--mode", "direct", "--key-arn", "alias/byok-acme"], "key_arn"),
    ],
)
def test_policy_input_errors_name_the_field_and_the_fix(args: list[str], field: str) -> None:
    result = run("policy", "--vendor-account", VENDOR, "--tenant", "acme", *args)
    assert result.exit_code == 2
    assert field in result.stderr and "Fix:" in result.stderr


def test_audit_of_a_policy_file_needs_no_aws(tmp_path: Path) -> None:
    setup = CustomerSetup(
        tenant="acme",
        mode="assume-role",
        customer_account=CUSTOMER,
        key_arn=KEY,
        external_id=EXTERNAL_ID,
    )
    kit = customer_kit(VendorIdentity(VENDOR), setup)
    loose = json.loads(kit["trust-policy.json"])
    del loose["Statement"][0]["Condition"]
    pasted = json.loads(kit["handover.json"]) | {
        "key_policy": {
            "Version": "2012-10-17",
            "Statement": json.loads(kit["key-policy-statements.json"]),
        },
        "trust_policy": loose,
        "permissions_policies": [json.loads(kit["permissions-policy.json"])],
    }
    path = tmp_path / "pasted.json"
    path.write_text(json.dumps(pasted))
    # No credentials and an unreachable endpoint: any AWS call would fail.
    env = {"BYOK_AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = run("audit", "--vendor-account", VENDOR, "--policy-file", str(path), "--json", env=env)
    body = json.loads(result.stdout)
    assert result.exit_code == 6 == body["exit_code"]
    assert body["worst"] == "critical"
    assert "external-id-not-required" in {f["code"] for f in body["findings"]}


def test_audit_needs_a_key() -> None:
    result = run("audit", "--vendor-account", VENDOR, "--tenant", "acme", "--mode", "direct")
    assert result.exit_code == 2 and "--key-arn" in result.stderr


# -- against the local AWS -------------------------------------------------------------------


@pytest.mark.localaws
@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_from_setup_to_a_working_key_using_only_the_cli(
    local_aws: Any, vendor: Vendor, tmp_path: Path, mode: str
) -> None:
    account = local_aws.new_account()
    env = _aws_env(local_aws, account)
    start_trail(local_aws, account)
    args = ["--mode", mode, "--vendor-account", vendor.account, "--tenant", "acme"]
    if mode == "assume-role":
        args += ["--external-id", EXTERNAL_ID]

    dry = run("setup", *args, "--dry-run", env=env)
    assert dry.exit_code == 0 and "would create" in dry.stdout and "kms:CreateKey" in dry.stdout
    path = tmp_path / "handover.json"
    first = run("setup", *args, "--handover-out", str(path), env=env)
    assert first.exit_code == 0
    handover_text = first.stdout[first.stdout.index("{") :]  # printed last, exact JSON
    assert path.read_text() == handover_text
    handover = json.loads(handover_text)
    assert handover["tenant"] == "acme" and handover["mode"] == mode
    second = run("setup", *args, "--json", env=env)
    assert second.exit_code == 0
    body = json.loads(second.stdout)
    assert body["changed"] is False and body["handover"] == handover
    assert {c["outcome"] for c in body["changes"]} == {"no change"}

    # The vendor uses the key with exactly what the CLI printed.
    vendor_round_trip(local_aws, vendor, handover)

    audit = run(
        "audit", "--vendor-account", vendor.account, "--handover", str(path), "--json", env=env
    )
    assert audit.exit_code == 0, audit.stdout
    assert json.loads(audit.stdout)["worst"] is None

    activity = run(
        "activity", "--handover", str(path), "--vendor-account", vendor.account, "--json", env=env
    )
    assert activity.exit_code == 0
    report = json.loads(activity.stdout)
    assert {g["name"]: g["count"] for g in report["by_tenant"]} == {"acme": 2}
    assert {g["name"] for g in report["by_operation"]} == {"GenerateDataKey", "Decrypt"}
    text = run("activity", "--handover", str(path), "--vendor-account", vendor.account, env=env)
    assert text.exit_code == 0 and "GenerateDataKey" in text.stdout


@pytest.mark.localaws
def test_audit_exit_code_and_text_for_a_broken_trust_policy(
    local_aws: Any, vendor: Vendor, tmp_path: Path
) -> None:
    account = local_aws.new_account()
    env = _aws_env(local_aws, account)
    first = run(
        "setup",
        "--mode",
        "assume-role",
        "--vendor-account",
        vendor.account,
        "--tenant",
        "acme",
        "--external-id",
        EXTERNAL_ID,
        "--json",
        env=env,
    )
    handover = json.loads(first.stdout)["handover"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": vendor.role_arn(STORAGE_ROLE)},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEqualsIfExists": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    local_aws.client("iam", account).update_assume_role_policy(
        RoleName="byok-client-role", PolicyDocument=json.dumps(trust)
    )

    args = [
        "audit",
        "--vendor-account",
        vendor.account,
        "--tenant",
        "acme",
        "--mode",
        "assume-role",
        "--key-arn",
        handover["key_arn"],
        "--client-role-arn",
        handover["client_role_arn"],
        "--external-id",
        EXTERNAL_ID,
    ]
    result = run(*args, env=env)
    assert result.exit_code == 6
    assert "CRITICAL" in result.stdout and "external-id-not-required" in result.stdout
    assert "fix:" in result.stdout and "Worst severity: critical" in result.stdout


@pytest.mark.localaws
def test_aws_errors_are_rendered_with_their_fix(local_aws: Any, vendor: Vendor) -> None:
    account = local_aws.new_account()
    env = _aws_env(local_aws, account)
    missing = f"arn:aws:kms:us-east-1:{account}:key/11111111-2222-3333-4444-555555555555"
    result = run(
        "audit",
        "--vendor-account",
        vendor.account,
        "--tenant",
        "acme",
        "--mode",
        "direct",
        "--key-arn",
        missing,
        env=env,
    )
    assert result.exit_code == 12  # KeyNotFound, from the one error table
    assert "customer key not found" in result.stderr and "Fix:" in result.stderr
    as_json = run(
        "audit",
        "--vendor-account",
        vendor.account,
        "--tenant",
        "acme",
        "--mode",
        "direct",
        "--key-arn",
        missing,
        "--json",
        env=env,
    )
    body = json.loads(as_json.stdout)
    assert body["error"] == "KeyNotFound" and body["exit_code"] == 12 and body["fix"]


def test_setup_without_credentials_says_how_to_give_them(local_aws: Any) -> None:
    result = run(
        "setup",
        "--mode",
        "direct",
        "--vendor-account",
        VENDOR,
        "--tenant",
        "acme",
        env={"BYOK_AWS_ENDPOINT_URL": local_aws.endpoint_url},
    )
    assert result.exit_code == 2
    assert "--profile" in result.stderr
