"""The offline audit of pasted policies: the generated set-ups pass, and each deliberate
misconfiguration is caught with the right finding and severity."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import byok.core.customer_audit as audit_module
from byok.core.customer_audit import AuditReport, Severity, audit_policy_file
from byok.core.policy.templates import (
    CustomerSetup,
    VendorIdentity,
    client_permissions_policy,
    client_trust_policy,
    handover_config,
    new_key_policy,
)
from byok.core.tenant_config import AccessMode
from byok.errors import InvalidInput

C, V, X = "111122223333", "444455556666", "777788889999"
KEY = f"arn:aws:kms:us-east-1:{C}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXT = "byok-Zx9_tenant-acme-external-id"
ADMIN = f"arn:aws:iam::{C}:role/KeyAdmin"
# Distinct role names, so a test can tell which one a policy names.
VENDOR = VendorIdentity(V, customer_facing_role="customer-facing-role")
CF_ROLE = f"arn:aws:iam::{V}:role/customer-facing-role"
DSR_ROLE = f"arn:aws:iam::{V}:role/document-storage-role"


def _file(mode: AccessMode = "direct", hardening: bool = True) -> dict[str, Any]:
    setup = CustomerSetup(
        "acme",
        mode,
        C,
        key_arn=KEY,
        external_id=EXT if mode == "assume-role" else None,
        admins=(ADMIN,),
        hardening=hardening,
    )
    data = handover_config(setup) | {"key_policy": new_key_policy(VENDOR, setup), "admins": [ADMIN]}
    if mode == "assume-role":
        data["trust_policy"] = client_trust_policy(VENDOR, setup)
        data["permissions_policies"] = [client_permissions_policy(VENDOR, setup)]
    return data


def _audit(data: dict[str, Any]) -> AuditReport:
    return audit_policy_file(json.loads(json.dumps(data)), VENDOR)


def _statement(data: dict[str, Any], sid_part: str, policy: str = "key_policy") -> Any:
    return next(s for s in data[policy]["Statement"] if sid_part in s.get("Sid", ""))


def test_public_names_match_all() -> None:
    public = {n for n in vars(audit_module) if not n.startswith("_")}
    assert set(audit_module.__all__) <= public


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_generated_setups_pass(mode: AccessMode) -> None:
    report = _audit(_file(mode))
    assert report.findings == ()
    assert report.worst is None
    assert report.to_dict() == {"worst": None, "findings": []}


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_a_key_not_limited_to_the_tenant_is_high_with_the_exact_fix(mode: AccessMode) -> None:
    report = _audit(_file(mode, hardening=False))
    assert report.codes == {"not-limited-to-tenant"}
    [finding] = report.findings
    assert finding.severity is Severity.HIGH
    assert "'acme-other'" in finding.evidence
    # The fix is the exact statements `byok customer policy` prints by default.
    fixed = _file(mode)
    for statement in fixed["key_policy"]["Statement"][2:]:
        assert json.dumps(statement, separators=(",", ":")) in finding.fix
    assert ("permissions policy" in finding.fix) is (mode == "assume-role")


def test_a_statement_naming_another_vendor_role_is_a_named_mismatch() -> None:
    # The guide's placeholder role while the vendor calls KMS as its document-storage role.
    vendor = VendorIdentity(V)
    setup_role = VendorIdentity(V, customer_facing_role="customer-facing-role")
    data = _file()
    assert setup_role.role_arn("direct") == CF_ROLE
    report = audit_policy_file(json.loads(json.dumps(data)), vendor)
    [finding] = [f for f in report.findings if f.code == "vendor-role-mismatch"]
    assert finding.severity is Severity.HIGH
    assert CF_ROLE in finding.evidence and DSR_ROLE in finding.evidence
    assert DSR_ROLE in finding.fix
    assert "vendor-role-mismatch" not in _audit(data).codes


def test_missing_action_is_caught() -> None:
    data = _file()
    _statement(data, "vendor")["Action"].remove("kms:Decrypt")
    report = _audit(data)
    [finding] = [f for f in report.findings if f.code == "vendor-cannot-use-key"]
    assert finding.severity is Severity.HIGH
    assert "kms:Decrypt" in finding.evidence and CF_ROLE in finding.evidence
    assert "kms:ReEncrypt*" in finding.fix


def test_hardening_to_another_tenant_breaks_the_vendor() -> None:
    data = _file(hardening=True)
    cond = _statement(data, "use the key")["Condition"]["StringEquals"]
    cond["kms:EncryptionContext:byok:tenant"] = "globex"
    assert "vendor-cannot-use-key" in _audit(data).codes


def test_vendor_with_kms_star_is_critical() -> None:
    data = _file()
    _statement(data, "vendor")["Action"] = "kms:*"
    report = _audit(data)
    assert {"vendor-excess-actions", "kms-star-non-admin"} <= report.codes
    excess = next(f for f in report.findings if f.code == "vendor-excess-actions")
    assert excess.severity is Severity.CRITICAL
    assert "kms:PutKeyPolicy" in excess.evidence and "kms:ScheduleKeyDeletion" in excess.evidence
    assert report.findings[0].severity is Severity.CRITICAL  # worst first


def test_vendor_with_one_extra_harmless_action_is_high() -> None:
    data = _file()
    _statement(data, "vendor")["Action"].append("kms:GetPublicKey")
    excess = next(f for f in _audit(data).findings if f.code == "vendor-excess-actions")
    assert excess.severity is Severity.HIGH


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_wildcard_principal_is_critical(principal: Any) -> None:
    data = _file()
    data["key_policy"]["Statement"].append(
        {
            "Sid": "Open",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    report = _audit(data)
    assert {"wildcard-principal", "other-account-access"} <= report.codes
    assert report.worst is Severity.CRITICAL
    wildcard = next(f for f in report.findings if f.code == "wildcard-principal")
    assert "'Open'" in wildcard.evidence


def test_foreign_account_is_caught() -> None:
    data = _file()
    data["key_policy"]["Statement"].append(
        {
            "Sid": "Partner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{X}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    finding = next(f for f in _audit(data).findings if f.code == "foreign-account")
    assert finding.severity is Severity.HIGH and X in finding.evidence


def test_kms_star_to_a_non_admin_and_to_an_admin() -> None:
    data = _file()
    data["key_policy"]["Statement"] += [
        {
            "Sid": "Dev",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{C}:role/dev"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AdminAll",
            "Effect": "Allow",
            "Principal": {"AWS": ADMIN},
            "Action": "*",
            "Resource": "*",
        },
    ]
    report = _audit(data)
    by_code = {f.code: f for f in report.findings}
    assert by_code["kms-star-non-admin"].severity is Severity.HIGH
    assert "role/dev" in by_code["kms-star-non-admin"].evidence
    assert by_code["kms-star-admin"].severity is Severity.LOW
    # The account root's kms:* (AWS's default statement) is not a finding.
    assert "Enable IAM User Permissions" not in by_code["kms-star-non-admin"].evidence


def test_not_principal_allow_is_caught() -> None:
    data = _file()
    data["key_policy"]["Statement"].append(
        {
            "Sid": "AllBut",
            "Effect": "Allow",
            "NotPrincipal": {"AWS": CF_ROLE},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    assert {"not-principal-allow", "other-account-access"} <= _audit(data).codes


def _trust_statement(data: dict[str, Any]) -> Any:
    return data["trust_policy"]["Statement"][0]


def test_trust_without_condition_is_critical() -> None:
    data = _file("assume-role")
    del _trust_statement(data)["Condition"]
    report = _audit(data)
    assert {"external-id-not-required", "external-id-not-checked"} <= report.codes
    assert report.worst is Severity.CRITICAL
    finding = next(f for f in report.findings if f.code == "external-id-not-required")
    assert "TrustVendorDocumentStorageRoleWithExternalId" in finding.evidence


def test_external_id_merely_present_is_caught() -> None:
    data = _file("assume-role")
    _trust_statement(data)["Condition"] = {"StringEqualsIfExists": {"sts:ExternalId": EXT}}
    assert "external-id-not-required" in _audit(data).codes


def test_external_id_in_a_separate_unconditional_allow_is_caught() -> None:
    data = _file("assume-role")
    extra = copy.deepcopy(_trust_statement(data))
    extra["Sid"] = "Convenience"
    del extra["Condition"]
    data["trust_policy"]["Statement"].append(extra)
    report = _audit(data)
    finding = next(f for f in report.findings if f.code == "external-id-not-required")
    assert "'Convenience'" in finding.evidence


def test_external_id_matched_by_wildcard_is_caught() -> None:
    data = _file("assume-role")
    _trust_statement(data)["Condition"] = {"StringLike": {"sts:ExternalId": "*"}}
    codes = _audit(data).codes
    assert "external-id-not-checked" in codes
    assert "external-id-not-required" not in codes


def test_external_id_typo_breaks_the_vendor() -> None:
    data = _file("assume-role")
    _trust_statement(data)["Condition"]["StringEquals"]["sts:ExternalId"] = EXT[:-1] + "X"
    finding = next(f for f in _audit(data).findings if f.code == "vendor-cannot-assume-client-role")
    assert finding.severity is Severity.HIGH and DSR_ROLE in finding.evidence


def test_trust_naming_the_vendor_account_is_too_broad() -> None:
    data = _file("assume-role")
    _trust_statement(data)["Principal"] = {"AWS": f"arn:aws:iam::{V}:root"}
    report = _audit(data)
    assert report.codes == {"trust-too-broad"}
    assert report.worst is Severity.MEDIUM


def test_trust_wildcard_principal_is_critical() -> None:
    data = _file("assume-role")
    _trust_statement(data)["Principal"] = {"AWS": "*"}
    assert {"wildcard-principal", "client-role-assumable-by-others"} <= _audit(data).codes


def test_client_role_with_kms_star_permissions_is_critical() -> None:
    data = _file("assume-role")
    data["permissions_policies"] = [
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
        }
    ]
    finding = next(f for f in _audit(data).findings if f.code == "vendor-excess-actions")
    assert finding.severity is Severity.CRITICAL


def test_client_role_without_permissions_cannot_use_the_key_through_the_root() -> None:
    data = _file("assume-role")
    data["key_policy"]["Statement"] = [
        s for s in data["key_policy"]["Statement"] if "client role" not in s["Sid"]
    ]
    assert "vendor-cannot-use-key" not in _audit(data).codes  # the root delegation suffices
    data["permissions_policies"] = []
    assert "vendor-cannot-use-key" in _audit(data).codes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"surprise": 1}, "surprise"),
        ({"mode": "both"}, "mode"),
        ({"key_arn": "alias/x"}, "key_arn"),
        ({"tenant": "no spaces"}, "tenant"),
        ({"key_policy": "{not json"}, "key_policy"),
    ],
)
def test_policy_file_errors_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        audit_policy_file(_file() | change, VENDOR)
    assert caught.value.field == field


@pytest.mark.parametrize("missing", ["trust_policy", "external_id", "client_role_arn"])
def test_assume_role_needs_its_documents(missing: str) -> None:
    data = _file("assume-role")
    del data[missing]
    with pytest.raises(InvalidInput) as caught:
        audit_policy_file(data, VENDOR)
    assert caught.value.field == missing


def test_policy_file_requires_the_key_policy() -> None:
    data = _file()
    del data["key_policy"]
    with pytest.raises(InvalidInput) as caught:
        audit_policy_file(data, VENDOR)
    assert caught.value.field == "key_policy"
    with pytest.raises(InvalidInput):
        audit_policy_file([], VENDOR)  # type: ignore[arg-type]


def test_report_json_shape() -> None:
    data = _file()
    _statement(data, "vendor")["Action"] = "kms:*"
    body = _audit(data).to_dict()
    assert body["worst"] == "critical"
    assert set(body["findings"][0]) == {"code", "severity", "title", "evidence", "fix"}
    assert json.loads(json.dumps(body)) == body
