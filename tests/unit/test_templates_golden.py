"""Golden files of every generated document, and the CloudFormation / Terraform checks.

The goldens in tests/golden/templates/<case>/ are compared byte for byte. After a deliberate
change, regenerate them with ``BYOK_UPDATE_GOLDEN=1 pytest tests/unit/test_templates_golden.py``
and review the diff: it is exactly what customers will see change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from byok.core.policy.templates import (
    AccessLevers,
    CustomerSetup,
    VendorIdentity,
    client_trust_policy,
    cloudformation_template,
    customer_kit,
    new_key_policy,
    terraform_config,
)
from byok.core.policy.templates.policies import literal_values, permissions_policy_document
from byok.core.tenant_config import AccessMode
from byok.errors import InvalidInput

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "templates"
UPDATE = os.environ.get("BYOK_UPDATE_GOLDEN") == "1"
C, V = "111122223333", "444455556666"
KEY = f"arn:aws:kms:us-east-1:{C}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXT = "byok-Zx9_tenant-acme-external-id"
ADMINS = (f"arn:aws:iam::{C}:role/KeyAdmin", f"arn:aws:iam::{C}:user/security-admin")
VENDOR = VendorIdentity(V)


def _case(mode: str, key: bool, hardening: bool) -> CustomerSetup:
    return CustomerSetup(
        "acme",
        cast(AccessMode, mode),
        C,
        key_arn=KEY if key else None,
        external_id=EXT if mode == "assume-role" else None,
        admins=ADMINS,
        hardening=hardening,
    )


# The default documents are bound to the tenant; "-unconditioned" is the guide's weaker form.
CASES = {
    f"{mode}-{'existing' if key else 'new'}{'' if hardening else '-unconditioned'}": _case(
        mode, key, hardening
    )
    for mode in ("direct", "assume-role")
    for key in (False, True)
    for hardening in (False, True)
}
# The customer's levers (docs/CUSTOMER.md, "Levers"): one adopted key with a reason denied.
CASES["direct-existing-levers"] = replace(
    _case("direct", True, True), levers=AccessLevers(deny_reasons=("vendor-support",))
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_customer_kit_matches_golden_files(name: str) -> None:
    kit = customer_kit(VENDOR, CASES[name])
    folder = GOLDEN / name
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for file, text in kit.items():
            (folder / file).write_text(text, encoding="utf-8", newline="\n")
    assert folder.is_dir(), f"no golden files for {name}; BYOK_UPDATE_GOLDEN=1 creates them"
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}
    assert sorted(on_disk) == sorted(kit), "files differ; BYOK_UPDATE_GOLDEN=1 regenerates"
    for file, text in kit.items():
        assert text == on_disk[file], f"{name}/{file} differs; BYOK_UPDATE_GOLDEN=1 regenerates"


def test_generation_is_deterministic() -> None:
    for setup in CASES.values():
        assert customer_kit(VENDOR, setup) == customer_kit(VENDOR, setup)


def test_templates_refuse_an_existing_key() -> None:
    for build in (cloudformation_template, terraform_config):
        with pytest.raises(InvalidInput) as caught:
            build(VENDOR, CASES["direct-existing"])
        assert caught.value.field == "key_arn"


# --- CloudFormation ---------------------------------------------------------------------------


def _resolve(node: Any, params: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """Resolve the intrinsic functions the template uses, as CloudFormation would."""
    if isinstance(node, list):
        items = [_resolve(n, params, conditions) for n in node]
        return [i for i in items if i is not _NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return params[arg]
        if fn == "Fn::GetAtt":
            return params[".".join(arg)]
        if fn == "Fn::Sub":
            text = arg
            for name, value in params.items():
                text = text.replace("${" + name + "}", str(value))
            assert "${" not in text, text
            return text
        if fn == "Fn::If":
            return _resolve(arg[1] if conditions[arg[0]] else arg[2], params, conditions)
    return {k: _resolve(v, params, conditions) for k, v in node.items()}


_NO_VALUE = object()


def _resolved_template(setup: CustomerSetup) -> dict[str, Any]:
    template = cloudformation_template(VENDOR, setup)
    params: dict[str, Any] = {
        name: (p["Default"].split(",") if p["Default"] else [])
        if p["Type"] == "CommaDelimitedList"
        else p["Default"]
        for name, p in template["Parameters"].items()
    }
    params |= {
        "AWS::AccountId": C,
        "AWS::Partition": "aws",
        "AWS::Region": "us-east-1",
        "AWS::NoValue": _NO_VALUE,
        "Key.Arn": KEY,
        "Key": KEY.rsplit("/", 1)[1],
        "ClientRole.Arn": f"arn:aws:iam::{C}:role/byok-client-role",
        "ClientRole": "byok-client-role",
    }
    conditions = {"HasKeyAdministrators": bool(params["KeyAdminArns"])}
    resolved: dict[str, Any] = _resolve(template, params, conditions)
    return resolved


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "-new" in n])
@pytest.mark.parametrize("admins", [True, False])
def test_cloudformation_policies_equal_the_json_policies(name: str, admins: bool) -> None:
    setup = CASES[name] if admins else replace(CASES[name], admins=())
    resources = _resolved_template(setup)["Resources"]
    assert resources["Key"]["Properties"]["KeyPolicy"] == new_key_policy(VENDOR, setup)
    if setup.mode == "assume-role":
        role = resources["ClientRole"]["Properties"]
        assert role["AssumeRolePolicyDocument"] == client_trust_policy(VENDOR, setup)
        expected = permissions_policy_document(
            literal_values(VENDOR, replace(setup, key_arn=KEY)), hardening=setup.hardening
        )
        permissions = resources["ClientRoleKeyPermissions"]["Properties"]["PolicyDocument"]
        assert permissions == expected


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_cloudformation_outputs_the_handover(mode: str) -> None:
    outputs = _resolved_template(CASES[f"{mode}-new"])["Outputs"]
    config = json.loads(outputs["VendorConfiguration"]["Value"])
    expected = {"tenant": "acme", "mode": mode, "key_arn": KEY, "region": "us-east-1"}
    if mode == "assume-role":
        expected |= {
            "client_role_arn": f"arn:aws:iam::{C}:role/byok-client-role",
            "external_id": EXT,
        }
    assert config == expected
    key = cloudformation_template(VENDOR, CASES[f"{mode}-new"])["Resources"]["Key"]
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert key["Properties"]["KeyUsage"] == "ENCRYPT_DECRYPT"


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "-new" in n])
@pytest.mark.parametrize("admins", [True, False])
def test_cloudformation_template_passes_cfn_lint(name: str, admins: bool) -> None:
    cfnlint_api = pytest.importorskip(
        "cfnlint.api", reason="cfn-lint is not installed (it is in the dev extra)"
    )
    setup = CASES[name] if admins else replace(CASES[name], admins=())
    text = customer_kit(VENDOR, setup)["cloudformation.json"]
    matches = cfnlint_api.lint(text, regions=["us-east-1"])
    assert [str(m) for m in matches] == []


def test_cfn_lint_catches_a_broken_template() -> None:
    cfnlint_api = pytest.importorskip("cfnlint.api")
    text = customer_kit(VENDOR, CASES["direct-new"])["cloudformation.json"]
    broken = text.replace('"SYMMETRIC_DEFAULT"', '"SYMMETRIC_WRONG"')
    assert cfnlint_api.lint(broken, regions=["us-east-1"])


# --- Terraform --------------------------------------------------------------------------------


def _terraform_fmt_check(text: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("terraform")
    if binary is None:
        print("terraform is not installed; the structural checks still run")
        pytest.skip("terraform is not installed")
    return subprocess.run(
        [binary, "fmt", "-check", "-"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if "-new" in n])
def test_terraform_file_is_valid_and_fmt_clean(name: str) -> None:
    result = _terraform_fmt_check(customer_kit(VENDOR, CASES[name])["main.tf"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_fmt_check_catches_a_syntax_error() -> None:
    result = _terraform_fmt_check(terraform_config(VENDOR, CASES["direct-new"]) + "}\n")
    assert result.returncode != 0


def _unquote(value: Any) -> Any:
    return value[1:-1] if isinstance(value, str) and value.startswith('"') else value


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_terraform_structure(mode: str) -> None:
    hcl2 = pytest.importorskip("hcl2")
    setup = CASES[f"{mode}-new"]
    tree = hcl2.loads(terraform_config(VENDOR, setup))
    resources = {
        (_unquote(t), _unquote(n))
        for block in tree["resource"]
        for t, named in block.items()
        for n in named
    }
    expected = {("aws_kms_key", "tenant"), ("aws_kms_alias", "tenant")}
    if mode == "assume-role":
        expected |= {("aws_iam_role", "client"), ("aws_iam_role_policy", "client_kms")}
    assert resources == expected
    defaults = {
        _unquote(n): _unquote(body.get("default"))
        for block in tree["variable"]
        for n, body in block.items()
    }
    assert defaults["tenant_id"] == "acme"
    assert defaults["vendor_account_id"] == V
    assert [_unquote(a) for a in defaults["key_admin_arns"]] == list(ADMINS)
    assert defaults.get("external_id") == (EXT if mode == "assume-role" else None)
    key = next(b['"aws_kms_key"']['"tenant"'] for b in tree["resource"] if '"aws_kms_key"' in b)
    assert key["enable_key_rotation"] is True
    assert _unquote(key["customer_master_key_spec"]) == "SYMMETRIC_DEFAULT"
    assert "kms:EncryptionContext:byok:tenant" in key["policy"]
    outputs = {_unquote(n) for block in tree["output"] for n in block}
    assert "vendor_configuration" in outputs
    assert ("client_role_arn" in outputs) is (mode == "assume-role")


# --- docs/CUSTOMER.md ---------------------------------------------------------------------------


def test_customer_guide_shows_exactly_the_generated_json() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "CUSTOMER.md"
    blocks = re.findall(r"```json\n(.*?)```", guide.read_text(encoding="utf-8"), re.DOTALL)
    generated: list[Any] = []
    for setup in CASES.values():
        for file, text in customer_kit(VENDOR, setup).items():
            if file.endswith(".json"):
                doc = json.loads(text)
                generated += [doc, *(doc if isinstance(doc, list) else [])]
    assert len(blocks) >= 8
    for block in blocks:
        assert json.loads(block) in generated, block[:200]
