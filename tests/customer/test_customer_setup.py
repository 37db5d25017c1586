"""``run_setup`` against the local AWS: Option A and B, idempotency, dry run, adoption, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from customer_world import (
    EXTERNAL_ID,
    STORAGE_ROLE,
    Vendor,
    customer_aws,
    doc,
    setup_for,
    vendor_round_trip,
)

from byok.core.policy.templates import (
    SID_ROOT,
    VendorIdentity,
    client_permissions_policy,
    client_trust_policy,
    new_key_policy,
)
from byok.core.tenant_config import TenantKeyConfig
from byok.customer.aws import CustomerAws
from byok.customer.setup import (
    NEW_KEY_ARN,
    PERMISSIONS_POLICY_NAME,
    desired_key_policy,
    run_setup,
)
from byok.errors import ConfigurationError, InvalidInput, KeyAccessDenied, KeyDisabled

pytestmark = pytest.mark.localaws

_WRITES = ("Create", "Put", "Update", "Enable", "Tag", "Delete", "Schedule", "Disable")


def _writes(counts: dict[str, int]) -> dict[str, int]:
    return {op: n for op, n in counts.items() if op.split(":")[1].startswith(_WRITES)}


def _outcomes(result: Any) -> dict[str, str]:
    return {c.resource: c.outcome for c in result.changes}


def test_option_a_creates_the_key_as_the_guide_says(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    admin = f"arn:aws:iam::{account}:role/KeyAdmin"
    setup = setup_for(account, "direct", admins=(admin,))
    result = run_setup(aws, vendor.identity, setup)

    assert _outcomes(result) == {
        "key": "create",
        "alias": "create",
        "key rotation": "update",
        "key policy": "update",
    }
    kms = local_aws.client("kms", account)
    meta = kms.describe_key(KeyId=result.key_arn)["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"], meta["KeyState"], meta["MultiRegion"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "Enabled",
        False,
    )
    assert meta["Description"] == "byok: document encryption key of tenant acme"
    assert meta["Arn"].startswith(f"arn:aws:kms:us-east-1:{account}:key/")
    assert kms.get_key_rotation_status(KeyId=result.key_arn)["KeyRotationEnabled"] is True
    aliases = kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/byok-acme"]
    # The stored policy is exactly the full key policy of the templates (root, admins, vendor).
    stored = json.loads(kms.get_key_policy(KeyId=result.key_arn, PolicyName="default")["Policy"])
    adopted = setup_for(account, "direct", admins=(admin,), key_arn=result.key_arn)
    assert stored == new_key_policy(vendor.identity, adopted)
    assert dict(result.handover) == {
        "tenant": "acme",
        "mode": "direct",
        "key_arn": result.key_arn,
        "region": "us-east-1",
    }
    # What the vendor needs: the hand-over parses as a tenant configuration, and works.
    assert TenantKeyConfig.from_dict(result.handover).key_arn == result.key_arn
    assert len(vendor_round_trip(local_aws, vendor, result.handover)) == 32


def test_option_b_creates_key_and_client_role(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    result = run_setup(aws, vendor.identity, setup_for(account, "assume-role"))

    assert _outcomes(result) == {
        "key": "create",
        "alias": "create",
        "key rotation": "update",
        "client role": "create",
        "permissions policy": "create",
        "key policy": "update",
    }
    role_arn = f"arn:aws:iam::{account}:role/byok-client-role"
    assert result.client_role_arn == role_arn
    assert dict(result.handover) == {
        "tenant": "acme",
        "mode": "assume-role",
        "key_arn": result.key_arn,
        "region": "us-east-1",
        "client_role_arn": role_arn,
        "external_id": EXTERNAL_ID,
    }
    adopted = setup_for(account, "assume-role", key_arn=result.key_arn)
    iam = local_aws.client("iam", account)
    role = iam.get_role(RoleName="byok-client-role")["Role"]
    assert role["AssumeRolePolicyDocument"] == client_trust_policy(vendor.identity, adopted)
    assert role["MaxSessionDuration"] == 3600
    permissions = iam.get_role_policy(
        RoleName="byok-client-role", PolicyName=PERMISSIONS_POLICY_NAME
    )["PolicyDocument"]
    assert permissions == client_permissions_policy(vendor.identity, adopted)
    # The vendor's chained assume-role works with the External ID and fails without it.
    assert len(vendor_round_trip(local_aws, vendor, result.handover)) == 32
    hop = local_aws.assume(vendor.account, vendor.role_arn(STORAGE_ROLE))
    with pytest.raises(Exception, match="AccessDenied"):
        local_aws.assume(hop, role_arn)
    assert TenantKeyConfig.from_dict(result.handover).external_id == EXTERNAL_ID


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_second_run_changes_nothing(
    vendor: Vendor, account: str, aws: CustomerAws, mode: str
) -> None:
    setup = setup_for(
        account, mode, admins=(f"arn:aws:iam::{account}:user/security-admin",), hardening=True
    )
    first = run_setup(aws, vendor.identity, setup)
    writes_before = _writes(aws.counts())
    second = run_setup(aws, vendor.identity, setup)

    assert first.changed and not second.changed
    assert set(_outcomes(second).values()) == {"no change"}
    assert all(not c.calls for c in second.changes)
    assert _writes(aws.counts()) == writes_before  # not one write call on the second run
    assert second.handover == first.handover


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_dry_run_makes_no_write_call_and_lists_every_document(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws, mode: str
) -> None:
    result = run_setup(aws, vendor.identity, setup_for(account, mode), dry_run=True)

    assert result.dry_run and result.key_arn is None
    assert _writes(aws.counts()) == {}
    assert result.api_calls and _writes(dict(result.api_calls)) == {}
    assert "kms:DescribeKey" in result.api_calls  # it looked for the key by its alias
    aliases = local_aws.client("kms", account).list_aliases()["Aliases"]
    assert "alias/byok-acme" not in {a["AliasName"] for a in aliases}
    assert local_aws.client("iam", account).list_roles()["Roles"] == []
    planned = [call.operation for change in result.changes for call in change.calls]
    expected = ["kms:CreateKey", "kms:CreateAlias", "kms:EnableKeyRotation"]
    if mode == "assume-role":
        expected += ["iam:CreateRole", "iam:PutRolePolicy"]
    assert planned == [*expected, "kms:PutKeyPolicy"]
    put = result.changes[-1].calls[0].parameters
    assert put["KeyId"] == NEW_KEY_ARN
    assert put["Policy"]["Statement"][0]["Sid"] == SID_ROOT  # documents shown as JSON objects
    assert result.handover["key_arn"] == NEW_KEY_ARN


def test_dry_run_after_setup_reports_no_change(
    vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    setup = setup_for(account, "assume-role")
    run_setup(aws, vendor.identity, setup)
    again = run_setup(aws, vendor.identity, setup, dry_run=True)
    assert not again.changed
    assert again.handover["key_arn"].startswith(f"arn:aws:kms:us-east-1:{account}:key/")


def test_adopting_a_key_keeps_its_other_statements(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    auditor = {
        "Sid": "Auditors may describe",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:role/Auditor"},
        "Action": "kms:DescribeKey",
        "Resource": "*",
    }
    root = {
        "Sid": SID_ROOT,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    key_arn = local_aws.create_key(account, doc(root, auditor))
    result = run_setup(aws, vendor.identity, setup_for(account, "direct", key_arn=key_arn))

    assert _outcomes(result)["key"] == "no change"
    assert result.key_arn == key_arn
    policy = json.loads(
        local_aws.client("kms", account).get_key_policy(KeyId=key_arn, PolicyName="default")[
            "Policy"
        ]
    )
    sids = [s["Sid"] for s in policy["Statement"]]
    assert sids == [
        SID_ROOT,
        "Auditors may describe",
        "Allow the vendor role to use the key for this tenant only",
        "Allow the vendor role to describe the key",
    ]
    assert vendor_round_trip(local_aws, vendor, result.handover)


def test_switching_hardening_on_replaces_the_vendor_statement(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    result = run_setup(aws, vendor.identity, setup_for(account, "direct", hardening=False))
    hardened = run_setup(aws, vendor.identity, setup_for(account, "direct"))

    assert _outcomes(hardened)["key policy"] == "update"
    policy = json.loads(
        local_aws.client("kms", account).get_key_policy(KeyId=result.key_arn, PolicyName="default")[
            "Policy"
        ]
    )
    assert [s["Sid"] for s in policy["Statement"]] == [
        SID_ROOT,
        "Allow the vendor role to use the key for this tenant only",
        "Allow the vendor role to describe the key",
    ]
    assert vendor_round_trip(local_aws, vendor, result.handover)  # own tenant: allowed
    with pytest.raises(Exception, match="AccessDenied"):
        vendor_round_trip(local_aws, vendor, result.handover, tenant="other-tenant")


def test_a_changed_trust_policy_is_put_back(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    setup = setup_for(account, "assume-role")
    run_setup(aws, vendor.identity, setup)
    iam = local_aws.client("iam", account)
    loose = {
        "Effect": "Allow",
        "Principal": {"AWS": vendor.role_arn(STORAGE_ROLE)},
        "Action": "sts:AssumeRole",
    }
    iam.update_assume_role_policy(RoleName="byok-client-role", PolicyDocument=doc(loose))

    again = run_setup(aws, vendor.identity, setup)
    assert _outcomes(again)["client role"] == "update"
    assert iam.get_role(RoleName="byok-client-role")["Role"]["AssumeRolePolicyDocument"] == (
        client_trust_policy(vendor.identity, setup)
    )


def test_alias_of_another_key_is_refused(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    other = local_aws.create_key(account)
    local_aws.client("kms", account).create_alias(AliasName="alias/byok-acme", TargetKeyId=other)
    mine = local_aws.create_key(account)
    with pytest.raises(ConfigurationError) as caught:
        run_setup(aws, vendor.identity, setup_for(account, "direct", key_arn=mine))
    assert "--alias" in caught.value.fix


def test_a_disabled_key_is_not_adopted(
    local_aws: Any, vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    key_arn = local_aws.create_key(account)
    local_aws.client("kms", account).disable_key(KeyId=key_arn)
    with pytest.raises(KeyDisabled, match="disabled"):
        run_setup(aws, vendor.identity, setup_for(account, "direct", key_arn=key_arn))


def test_credentials_of_another_account_are_refused(
    local_aws: Any, vendor: Vendor, account: str
) -> None:
    other = customer_aws(local_aws, local_aws.new_account())
    with pytest.raises(ConfigurationError, match="credentials are of account"):
        run_setup(other, vendor.identity, setup_for(account, "direct"))


def test_access_denied_becomes_a_typed_error_with_a_fix(
    local_aws: Any, vendor: Vendor, account: str
) -> None:
    # An IAM user allowed only to describe keys: the first call on the key is refused.
    _, creds = local_aws.make_user(
        account,
        "reader",
        {
            "read": doc(
                {
                    "Effect": "Allow",
                    "Action": ["kms:DescribeKey", "sts:GetCallerIdentity"],
                    "Resource": "*",
                }
            )
        },
    )
    reader = CustomerAws.connect(endpoint_url=local_aws.endpoint_url, credentials=_static(creds))
    key_arn = local_aws.create_key(account)
    with pytest.raises(KeyAccessDenied) as caught:
        run_setup(reader, vendor.identity, setup_for(account, "direct", key_arn=key_arn))
    error = caught.value
    assert error.operation == "kms:CreateAlias"
    assert error.operation in error.fix and "key policy" in error.fix
    assert error.tenant is None or error.tenant == "acme"


def test_no_credentials_is_a_configuration_error(local_aws: Any, vendor: Vendor) -> None:
    nobody = CustomerAws.connect(endpoint_url=local_aws.endpoint_url)
    with pytest.raises(ConfigurationError) as caught:
        run_setup(nobody, vendor.identity, setup_for("111122223333", "direct"))
    assert "--profile" in caught.value.fix


def _static(creds: dict[str, str]) -> Any:
    from byok.aws.clients import StaticCredentials

    return StaticCredentials(creds["AccessKeyId"], creds["SecretAccessKey"])


# -- pure parts and the propagation retry ------------------------------------------------------


def test_desired_key_policy_adds_admins_without_removing_anyone() -> None:
    account = "111122223333"
    existing: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Allow access for Key Administrators",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:role/Existing"},
                "Action": "kms:Describe*",
                "Resource": "*",
            }
        ],
    }
    new_admin = f"arn:aws:iam::{account}:role/New"
    setup = setup_for(
        account,
        "direct",
        key_arn=f"arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        admins=(new_admin,),
    )
    desired = desired_key_policy(existing, VendorIdentity("444455556666"), setup)

    admins = desired["Statement"][0]
    assert admins["Principal"] == {"AWS": [f"arn:aws:iam::{account}:role/Existing", new_admin]}
    assert admins["Action"] == "kms:Describe*"  # the customer's statement otherwise unchanged
    sid = desired["Statement"][1]["Sid"]
    assert sid == "Allow the vendor role to use the key for this tenant only"
    assert existing["Statement"][0]["Principal"] == {  # the input is not modified
        "AWS": f"arn:aws:iam::{account}:role/Existing"
    }
    assert desired_key_policy(desired, VendorIdentity("444455556666"), setup) == desired


class _SlowIam(CustomerAws):
    """KMS refuses the new client role twice, as while IAM propagates it in real AWS."""

    refusals = 2

    def call(self, service: str, operation: str, **kw: Any) -> Any:
        if operation == "PutKeyPolicy" and self.refusals:
            self.refusals -= 1
            raise InvalidInput(
                "policy",
                "AWS refused kms:PutKeyPolicy: Policy contains a "
                "statement with one or more invalid principals.",
            )
        return super().call(service, operation, **kw)


@pytest.mark.localaws
def test_put_key_policy_is_retried_while_a_new_role_propagates(
    vendor: Vendor, account: str, aws: CustomerAws
) -> None:
    slow = _SlowIam(aws.factory)
    waits: list[float] = []
    result = run_setup(slow, vendor.identity, setup_for(account, "assume-role"), sleep=waits.append)
    assert waits == [2.0, 4.0]
    assert _outcomes(result)["key policy"] == "update"
    assert not run_setup(aws, vendor.identity, setup_for(account, "assume-role")).changed
