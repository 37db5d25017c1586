"""``run_audit`` against the local AWS: a clean set-up, then each deliberate misconfiguration.

Each misconfiguration is made with plain boto3 calls as the customer (what an admin clicking
in the console would do), then the audit must name it with the right finding, and where the
vendor is affected the vendor's own calls must fail too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from customer_world import (
    EXTERNAL_ID,
    STORAGE_ROLE,
    Vendor,
    doc,
    setup_for,
    start_trail,
    vendor_kms,
    vendor_round_trip,
)

from byok.core.customer_audit import Severity
from byok.customer.audit import EXIT_CODES, CustomerAuditResult, read_trails, run_audit
from byok.customer.aws import CustomerAws
from byok.customer.plan import SetupResult
from byok.customer.setup import PERMISSIONS_POLICY_NAME, run_setup
from byok.errors import CustomerAccessError, KeyNotFound

pytestmark = pytest.mark.localaws

Configure = Callable[..., tuple[SetupResult, Callable[..., CustomerAuditResult]]]


@pytest.fixture
def configured(local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws) -> Configure:
    """Set up ``mode`` with a logging trail; return the result and an audit function."""

    def configure(mode: str, *, trail: bool = True, **kw: Any) -> Any:
        if trail:
            start_trail(local_aws, account)
        result = run_setup(aws, vendor.identity, setup_for(account, mode, **kw))

        def audit(**overrides: Any) -> CustomerAuditResult:
            given: dict[str, Any] = {
                "tenant": "acme",
                "mode": mode,
                "key_arn": result.key_arn,
                "client_role_arn": result.client_role_arn,
                "external_id": result.handover.get("external_id"),
            } | overrides
            return run_audit(aws, vendor.identity, **given)

        return result, audit

    return configure


def _codes(result: CustomerAuditResult) -> set[str]:
    return set(result.report.codes)


def _finding(result: CustomerAuditResult, code: str) -> Any:
    return next(f for f in result.report.findings if f.code == code)


def _key_policy(local_aws: Any, account: str, key_arn: str) -> dict[str, Any]:
    text = local_aws.client("kms", account).get_key_policy(KeyId=key_arn, PolicyName="default")
    return dict(json.loads(text["Policy"]))


def _put_key_policy(local_aws: Any, account: str, key_arn: str, policy: Any) -> None:
    local_aws.client("kms", account).put_key_policy(
        KeyId=key_arn, PolicyName="default", Policy=json.dumps(policy)
    )


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_a_fresh_setup_has_no_finding_at_all(configured: Configure, mode: str) -> None:
    _, audit = configured(mode)
    result = audit()
    assert result.report.findings == ()
    assert result.to_dict()["worst"] is None and result.exit_code == 0
    assert result.key.rotation is True and result.trails.logging == ("org-trail",)
    if mode == "assume-role":
        assert result.client_role_found is True


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_an_unconditioned_setup_is_high(configured: Configure, mode: str) -> None:
    _, audit = configured(mode, hardening=False)
    result = audit()
    assert _codes(result) == {"not-limited-to-tenant"}
    assert result.report.worst is Severity.HIGH
    assert result.exit_code == 5
    assert "kms:EncryptionContext:byok:tenant" in _finding(result, "not-limited-to-tenant").fix


def test_trust_policy_without_the_external_id_condition(
    local_aws: Any, vendor: Vendor, account: str, configured: Configure
) -> None:
    setup, audit = configured("assume-role")
    loose = {
        "Effect": "Allow",
        "Principal": {"AWS": vendor.role_arn(STORAGE_ROLE)},
        "Action": "sts:AssumeRole",
    }
    local_aws.client("iam", account).update_assume_role_policy(
        RoleName="byok-client-role", PolicyDocument=doc(loose)
    )

    result = audit()
    finding = _finding(result, "external-id-not-required")
    assert finding.severity is Severity.CRITICAL
    assert "without the External ID" in finding.title and "sts:ExternalId" in finding.fix
    assert result.exit_code == EXIT_CODES[Severity.CRITICAL] == 6
    # The vendor's side agrees: the role can now be assumed with no External ID at all.
    hop = local_aws.assume(vendor.account, vendor.role_arn(STORAGE_ROLE))
    assert local_aws.assume(hop, setup.client_role_arn)["AccessKeyId"]


def test_external_id_typo(
    local_aws: Any, vendor: Vendor, account: str, configured: Configure
) -> None:
    setup, audit = configured("assume-role")
    typo = EXTERNAL_ID[:10] + "X" + EXTERNAL_ID[11:]
    trust = {
        "Effect": "Allow",
        "Principal": {"AWS": vendor.role_arn(STORAGE_ROLE)},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": typo}},
    }
    local_aws.client("iam", account).update_assume_role_policy(
        RoleName="byok-client-role", PolicyDocument=doc(trust)
    )

    result = audit()
    assert {"external-id-mismatch", "vendor-cannot-assume-client-role"} <= _codes(result)
    mismatch = _finding(result, "external-id-mismatch")
    assert mismatch.severity is Severity.HIGH and "character 11" in mismatch.evidence
    assert EXTERNAL_ID not in mismatch.evidence and typo not in mismatch.evidence
    assert result.exit_code == 5
    with pytest.raises(Exception, match="AccessDenied"):
        vendor_round_trip(local_aws, vendor, setup.handover)


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_key_policy_missing_an_action(
    local_aws: Any, vendor: Vendor, account: str, configured: Configure, mode: str
) -> None:
    setup, audit = configured(mode)
    assert setup.key_arn is not None
    policy = _key_policy(local_aws, account, setup.key_arn)
    vendor_statement = policy["Statement"][-2]  # the use statement; DescribeKey is the last
    vendor_statement["Action"].remove("kms:Decrypt")
    _put_key_policy(local_aws, account, setup.key_arn, policy)

    if mode == "assume-role":  # the client role's own IAM policy must not grant it either
        iam = local_aws.client("iam", account)
        permissions = iam.get_role_policy(
            RoleName="byok-client-role", PolicyName=PERMISSIONS_POLICY_NAME
        )["PolicyDocument"]
        permissions["Statement"][0]["Action"].remove("kms:Decrypt")
        iam.put_role_policy(
            RoleName="byok-client-role",
            PolicyName=PERMISSIONS_POLICY_NAME,
            PolicyDocument=json.dumps(permissions),
        )
    result = audit()
    finding = _finding(result, "vendor-cannot-use-key")
    assert finding.severity is Severity.HIGH and "kms:Decrypt" in finding.evidence
    assert result.exit_code == 5
    with pytest.raises(Exception, match="AccessDenied"):
        vendor_round_trip(local_aws, vendor, setup.handover)


def test_wildcard_principal(local_aws: Any, account: str, configured: Configure) -> None:
    setup, audit = configured("direct")
    assert setup.key_arn is not None
    policy = _key_policy(local_aws, account, setup.key_arn)
    policy["Statement"].append(
        {
            "Sid": "Everyone",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    _put_key_policy(local_aws, account, setup.key_arn, policy)

    result = audit()
    finding = _finding(result, "wildcard-principal")
    assert finding.severity is Severity.CRITICAL and "'Everyone'" in finding.evidence
    assert "other-account-access" in _codes(result)
    assert result.exit_code == 6


def test_rotation_off(local_aws: Any, account: str, configured: Configure) -> None:
    setup, audit = configured("direct")
    local_aws.client("kms", account).disable_key_rotation(KeyId=setup.key_arn)

    result = audit()
    assert _codes(result) == {"rotation-off"}
    assert _finding(result, "rotation-off").severity is Severity.MEDIUM
    assert result.exit_code == 4


def test_key_in_another_region(configured: Configure) -> None:
    setup, audit = configured("direct", region="eu-west-1")
    assert setup.region == "eu-west-1"
    assert setup.key_arn is not None and ":eu-west-1:" in setup.key_arn

    result = audit()
    finding = _finding(result, "key-region")
    assert finding.severity is Severity.HIGH and "eu-west-1" in finding.evidence
    assert "cloudtrail-not-logging" not in _codes(result)  # the multi-Region trail covers it
    assert result.exit_code == 5


def test_disabled_key(local_aws: Any, vendor: Vendor, account: str, configured: Configure) -> None:
    setup, audit = configured("direct")
    local_aws.client("kms", account).disable_key(KeyId=setup.key_arn)
    result = audit()
    assert _finding(result, "key-disabled").severity is Severity.HIGH
    with pytest.raises(Exception, match="Disabled"):
        vendor_round_trip(local_aws, vendor, setup.handover)


def test_deleted_client_role(local_aws: Any, account: str, configured: Configure) -> None:
    _, audit = configured("assume-role")
    iam = local_aws.client("iam", account)
    iam.delete_role_policy(RoleName="byok-client-role", PolicyName=PERMISSIONS_POLICY_NAME)
    iam.delete_role(RoleName="byok-client-role")

    result = audit()
    assert {"client-role-missing", "vendor-cannot-assume-client-role"} <= _codes(result)
    assert result.client_role_found is False and result.exit_code == 5


@pytest.mark.parametrize("how", ["no trail", "stopped", "write-only"])
def test_cloudtrail_not_logging_the_key(
    local_aws: Any, account: str, configured: Configure, how: str
) -> None:
    if how != "no trail":
        start_trail(
            local_aws,
            account,
            logging=how != "stopped",
            read_write="WriteOnly" if how == "write-only" else None,
        )
    _, audit = configured("direct", trail=False)

    result = audit()
    finding = _finding(result, "cloudtrail-not-logging")
    assert finding.severity is Severity.MEDIUM
    expected = {
        "no trail": "no trail",
        "stopped": "not logging",
        "write-only": "read-only management events",
    }[how]
    assert expected in finding.evidence
    assert result.to_dict()["observed"]["cloudtrail"]["status"] == "not logging"


def test_an_attached_managed_policy_on_the_client_role_is_read(
    local_aws: Any, vendor: Vendor, account: str, configured: Configure
) -> None:
    setup, audit = configured("assume-role")
    iam = local_aws.client("iam", account)
    arn = iam.create_policy(
        PolicyName="too-much",
        PolicyDocument=doc({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="byok-client-role", PolicyArn=arn)

    result = audit()
    # The key policy's root statement lets the role's own IAM policy grant more: kms:*.
    finding = _finding(result, "vendor-excess-actions")
    assert finding.severity is Severity.CRITICAL and "kms:PutKeyPolicy" in finding.evidence
    assert result.exit_code == 6
    vendor_kms(local_aws, vendor, setup.handover).get_key_policy(
        KeyId=setup.key_arn, PolicyName="default"
    )  # the vendor really can read it


def test_unknown_key_is_a_typed_error(vendor: Vendor, account: str, aws: CustomerAws) -> None:
    missing = f"arn:aws:kms:us-east-1:{account}:key/11111111-2222-3333-4444-555555555555"
    with pytest.raises(KeyNotFound) as caught:
        run_audit(aws, vendor.identity, tenant="acme", mode="direct", key_arn=missing)
    assert "key ARN" in caught.value.fix


class _NoCloudTrail(CustomerAws):
    """The customer's access with CloudTrail refused (as an admin without those rights)."""

    def call(self, service: str, operation: str, **kw: Any) -> Any:
        if service == "cloudtrail":
            raise CustomerAccessError(
                "AWS refused cloudtrail:DescribeTrails (AccessDenied)",
                operation=f"cloudtrail:{operation}",
            )
        return super().call(service, operation, **kw)


def test_cloudtrail_unreadable_is_reported_as_unknown(aws: CustomerAws) -> None:
    refused = _NoCloudTrail(aws.factory)
    trails = read_trails(refused, "us-east-1")
    assert not trails.readable and trails.to_dict()["status"] == "unknown"
    assert "cloudtrail:DescribeTrails" in trails.evidence


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_grants_to_the_vendor_are_listed(
    local_aws: Any, vendor: Vendor, account: str, configured: Configure, mode: str
) -> None:
    setup, audit = configured(mode)
    kms = local_aws.client("kms", account)
    vendor_principal = (
        setup.client_role_arn
        if mode == "assume-role"
        else f"arn:aws:iam::{vendor.identity.account}:role/{STORAGE_ROLE}"
    )
    made = kms.create_grant(
        KeyId=setup.key_arn, GranteePrincipal=vendor_principal, Operations=["Decrypt"]
    )
    other = local_aws.new_account()
    kms.create_grant(
        KeyId=setup.key_arn, GranteePrincipal=f"arn:aws:iam::{other}:root", Operations=["Decrypt"]
    )
    result = audit()
    assert _codes(result) == {"grant-to-vendor"}  # the other account's grant is not the vendor's
    finding = _finding(result, "grant-to-vendor")
    assert finding.severity is Severity.MEDIUM and made["GrantId"] in finding.evidence
    assert vendor_principal in finding.evidence and "RevokeGrant" in finding.fix
    kms.revoke_grant(KeyId=setup.key_arn, GrantId=made["GrantId"])
    assert audit().report.findings == ()


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_after_offboarding_every_path_left_to_the_vendor_is_a_finding(
    configured: Configure, local_aws: Any, vendor: Vendor, account: str, mode: str
) -> None:
    """Issue 17: ``--offboarded`` shows whether the vendor still has a statement, grant or
    trust on the key, and whether the key still works at all; taking them away clears it."""
    result, audit = configured(mode)
    still = audit(offboarded=True)
    codes = _codes(still)
    assert "OFFBOARDED_KEY_ENABLED" in codes
    # Option A: the key policy names the vendor's role; Option B: the client role trusts it.
    assert ("OFFBOARDED_VENDOR_STATEMENT" in codes) == (mode == "direct")
    assert ("OFFBOARDED_VENDOR_TRUST" in codes) == (mode == "assume-role")
    assert still.exit_code == EXIT_CODES[Severity.HIGH]
    kms = local_aws.client("kms", account)
    grant = kms.create_grant(
        KeyId=result.key_arn, GranteePrincipal=f"arn:aws:iam::{vendor.account}:root",
        Operations=["Decrypt"],
    )  # fmt: skip
    assert "OFFBOARDED_VENDOR_GRANT" in _codes(audit(offboarded=True))

    # The customer takes everything back, as the offboarding report asks.
    kms.revoke_grant(KeyId=result.key_arn, GrantId=grant["GrantId"])
    policy = _key_policy(local_aws, account, result.key_arn)
    policy["Statement"] = [s for s in policy["Statement"] if vendor.account not in json.dumps(s)]
    _put_key_policy(local_aws, account, result.key_arn, policy)
    if mode == "assume-role":
        assert result.client_role_arn is not None
        local_aws.client("iam", account).update_assume_role_policy(
            RoleName=result.client_role_arn.rsplit("/", 1)[1],
            PolicyDocument=doc({"Effect": "Allow", "Action": "sts:AssumeRole",
                                "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}),
        )  # fmt: skip
    kms.disable_key(KeyId=result.key_arn)
    done = audit(offboarded=True)
    assert _codes(done) == {"OFFBOARDED_KEY_RETIRED"} and done.exit_code == 0
