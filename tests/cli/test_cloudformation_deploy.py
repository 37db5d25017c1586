"""The CloudFormation templates of ``byok customer policy`` deploy into the local AWS (moto's
CloudFormation, fixed up by the fidelity layer) and the result passes ``byok tenant verify``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_world import run, run_json, vendor_env

pytestmark = pytest.mark.localaws


def deploy(local_aws: Any, account: str, stack: str, template: str) -> dict[str, str]:
    """Create the stack as the customer's root; return its outputs."""
    cfn = local_aws.client("cloudformation", account)
    cfn.create_stack(StackName=stack, TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"])
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_deployed_template_passes_tenant_verify(local_aws: Any, tmp_path: Path, mode: str) -> None:
    env = vendor_env(local_aws, tmp_path / "home")
    run(env, "vendor-setup")
    created = run_json(env, "tenant", "create", "acme")
    customer = local_aws.new_account()
    args = [
        "customer",
        "policy",
        "--mode",
        mode,
        "--tenant",
        "acme",
        "--vendor-account",
        env["BYOK_VENDOR_ACCOUNT"],
        "--account",
        customer,
        "--format",
        "cloudformation",
    ]
    if mode == "assume-role":
        args += ["--external-id", created["external_id"]]
    template = run({}, *args).stdout
    outputs = deploy(local_aws, customer, f"byok-{mode}", template)

    # What was deployed is what the template says: rotation on, the tenant condition kept.
    kms = local_aws.client("kms", customer)
    assert kms.get_key_rotation_status(KeyId=outputs["KeyArn"])["KeyRotationEnabled"]
    policy = json.loads(kms.get_key_policy(KeyId=outputs["KeyArn"], PolicyName="default")["Policy"])
    conditions = json.dumps([s.get("Condition") for s in policy["Statement"]])
    assert '"kms:EncryptionContext:byok:tenant": "acme"' in conditions
    tags = kms.list_resource_tags(KeyId=outputs["KeyArn"])["Tags"]
    assert {"TagKey": "byok:tenant", "TagValue": "acme"} in tags
    if mode == "assume-role":
        iam = local_aws.client("iam", customer)
        names = iam.list_role_policies(RoleName="byok-client-role")["PolicyNames"]
        assert names == ["byok-use-tenant-key"]

    handover = tmp_path / "handover.json"
    handover.write_text(outputs["VendorConfiguration"], encoding="utf-8")
    run_json(env, "tenant", "configure", "--handover", str(handover))
    report = run_json(env, "tenant", "verify", "acme")
    assert report["passed"], report
    assert run_json(env, "tenant", "activate", "acme")["state"] == "ACTIVE"


def test_template_of_another_tenant_fails_verify(local_aws: Any, tmp_path: Path) -> None:
    """A stack made for tenant globex does not let the vendor use the key for acme."""
    env = vendor_env(local_aws, tmp_path / "home")
    run(env, "vendor-setup")
    run_json(env, "tenant", "create", "acme")
    customer = local_aws.new_account()
    template = run(
        {},
        "customer",
        "policy",
        "--mode",
        "direct",
        "--tenant",
        "globex",
        "--vendor-account",
        env["BYOK_VENDOR_ACCOUNT"],
        "--account",
        customer,
        "--format",
        "cloudformation",
    ).stdout
    outputs = deploy(local_aws, customer, "byok-globex", template)
    run(env, "tenant", "configure", "acme", "--mode", "direct", "--key-arn", outputs["KeyArn"])
    report = run_json(env, "tenant", "verify", "acme", code=3)
    assert not report["passed"]
