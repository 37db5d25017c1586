"""A customer following only the printed defaults onboards in both modes, every check green.

The customer runs ``byok customer setup`` with nothing but what the vendor gave it (vendor
account, tenant id, and for Option B the External ID); the vendor submits the printed
hand-over and verifies. On the old defaults Option A named ``customer-facing-role`` while the
vendor calls KMS as ``document-storage-role``, so verification ended in KeyAccessDenied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from byok.cli.main import app
from support.world import World


def _customer_setup(local_aws: Any, world: World, *args: str) -> dict[str, Any]:
    account = local_aws.new_account()
    env = {
        "AWS_ACCESS_KEY_ID": f"ROOT{account}",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "BYOK_AWS_ENDPOINT_URL": local_aws.endpoint_url,
    }
    command = ["customer", "setup", "--vendor-account", world.vendor_account, *args, "--json"]
    result = CliRunner().invoke(app, command, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    handover: dict[str, Any] = json.loads(result.stdout)["handover"]
    return handover


@pytest.mark.localaws
@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_the_printed_defaults_onboard_with_every_check_green(
    local_aws: Any, world: World, mode: str
) -> None:
    vendor = world.vendor
    tenant = vendor.create_tenant("acme")
    args = ["--mode", mode, "--tenant", "acme"]
    if mode == "assume-role":
        args += ["--external-id", tenant.external_id]
    handover = _customer_setup(local_aws, world, *args)

    vendor.submit_config(
        "acme", mode=handover["mode"], key_arn=handover["key_arn"],
        client_role_arn=handover.get("client_role_arn"), external_id=handover.get("external_id"),
    )  # fmt: skip
    report = vendor.verify("acme")
    assert report.passed, report.to_dict()
    assert all(check.status == "passed" for check in report.checks)
    vendor.activate("acme")
    vendor.put_document("acme", "a.txt", b"hello")
    assert vendor.get_document("acme", "a.txt").read_all() == b"hello"


def test_policy_unconditioned_prints_why_it_is_weaker() -> None:
    args = ["customer", "policy", "--mode", "direct", "--vendor-account", "444455556666"]
    args += ["--tenant", "acme", "--account", "111122223333"]
    args += ["--document", "key-policy-statements.json"]
    bound = CliRunner().invoke(app, args, catch_exceptions=False)
    weaker = CliRunner().invoke(app, [*args, "--unconditioned"], catch_exceptions=False)
    assert bound.exit_code == weaker.exit_code == 0
    assert "kms:EncryptionContext:byok:tenant" in bound.stdout
    assert "document-storage-role" in bound.stdout  # the role the vendor calls KMS as
    assert "kms:EncryptionContext:byok:tenant" not in weaker.stdout
    assert "WEAKER" in weaker.stderr and "key_refuses_other_tenants" in weaker.stderr
    assert "WEAKER" not in bound.stderr
