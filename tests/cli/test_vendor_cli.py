"""The vendor's command line end to end, against the local AWS: vendor-setup, onboarding,
documents, audit, export (decrypted by the customer alone), offboarding; errors exit by the
error table with the fix printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from byok.cli.main import app
from support.world import new_customer


@pytest.fixture
def env(local_aws: Any, tmp_path: Path) -> dict[str, str]:
    return {
        "BYOK_HOME": str(tmp_path / "home"),
        "BYOK_AWS_ENDPOINT_URL": local_aws.endpoint_url,
        "BYOK_VENDOR_ACCOUNT": local_aws.new_account(),
        "BYOK_REVOCATION_BOUND_SECONDS": "5",
    }


def _run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


@pytest.mark.localaws
def test_vendor_cli_onboards_stores_exports_and_offboards(
    env: dict[str, str], local_aws: Any, tmp_path: Path
) -> None:
    role = json.loads(_run(env, "vendor-setup", "--json"))
    assert role["arn"].endswith(":role/document-storage-role") and role["created"]
    assert "no change" in _run(env, "vendor-setup")
    tenant = json.loads(_run(env, "tenant", "create", "acme", "--json"))
    assert tenant["state"] == "PENDING" and tenant["external_id"].startswith("byok-")

    customer = new_customer(local_aws, role["arn"])
    customer.key_policy(role["arn"], tenant="acme")
    _run(env, "tenant", "configure", "acme", "--mode", "direct", "--key-arn", customer.key_arn)
    report = json.loads(_run(env, "tenant", "verify", "acme", "--json"))
    assert report["passed"] and {c["status"] for c in report["checks"]} == {"passed"}
    assert json.loads(_run(env, "tenant", "activate", "acme", "--json"))["state"] == "ACTIVE"

    source = tmp_path / "q3.txt"
    source.write_bytes(b"quarterly numbers\n" * 1000)
    _run(env, "doc", "put", "acme", "reports/q3.txt", str(source))
    copy = tmp_path / "copy.txt"
    _run(
        env,
        "doc",
        "get",
        "--reason",
        "support",
        "--ticket",
        "SUP-1",
        "acme",
        "reports/q3.txt",
        "-o",
        str(copy),
    )
    assert copy.read_bytes() == source.read_bytes()
    listed = json.loads(_run(env, "doc", "ls", "acme", "--json"))
    assert [item["name"] for item in listed["items"]] == ["reports/q3.txt"]
    assert "intact" in _run(env, "audit", "verify")

    bundle, plain = tmp_path / "bundle", tmp_path / "plain"
    _run(env, "tenant", "export", "acme", str(bundle))
    customer_env = {**env, "AWS_ACCESS_KEY_ID": f"ROOT{customer.account}",
                    "AWS_SECRET_ACCESS_KEY": "local"}  # fmt: skip
    done = json.loads(_run(customer_env, "customer", "decrypt-export", str(bundle), str(plain),
                           "--json"))  # fmt: skip
    assert done["documents"] == 1 and done["keys_unwrapped"] == 1

    _run(env, "tenant", "offboard", "acme", "--confirm", "acme")
    assert json.loads(_run(env, "tenant", "show", "acme", "--json"))["state"] == "OFFBOARDED"


@pytest.mark.localaws
def test_cli_errors_name_the_field_and_fix_and_exit_by_the_table(
    env: dict[str, str], tmp_path: Path
) -> None:
    _run(env, "tenant", "create", "acme")
    out = _run(env, "tenant", "configure", "acme", "--mode", "direct",
               "--key-arn", "alias/acme", code=2)  # fmt: skip
    assert "key_arn" in out and "Fix:" in out and "full key ARN" in out
    body = tmp_path / "body"
    body.write_bytes(b"x")
    failure = json.loads(_run(env, "doc", "put", "acme", "d", str(body), "--json", code=50))
    assert failure["error"] == "StateError" and "activate" in failure["fix"]
    assert failure["exit_code"] == 50
