"""The generated policies, proved through the policy evaluator: they grant exactly the five
actions of the customer guide to exactly the right principal, and nothing else."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import byok.core.policy.templates as templates
from byok.core.policy.evaluate import (
    Decision,
    Request,
    assume_role_authorize,
    evaluate,
    kms_authorize,
    parse_policy,
    validate_policy_type,
)
from byok.core.policy.templates import (
    KEY_USE_ACTIONS,
    CustomerSetup,
    VendorIdentity,
    client_permissions_policy,
    client_trust_policy,
    handover_config,
    merge_key_policy,
    new_key_policy,
    render_json,
    vendor_key_statements,
)
from byok.core.policy.templates.hcl import string
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import InvalidInput

C, V, X = "111122223333", "444455556666", "777788889999"
KEY = f"arn:aws:kms:us-east-1:{C}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:us-east-1:{C}:key/0000abcd-12ab-34cd-56ef-1234567890ab"
EXT = "byok-Zx9_tenant-acme-external-id"
ADMIN = f"arn:aws:iam::{C}:role/KeyAdmin"
# Distinct role names, so a test can tell which one a policy names.
VENDOR = VendorIdentity(V, customer_facing_role="customer-facing-role")
CF_ROLE = f"arn:aws:iam::{V}:role/customer-facing-role"
DSR_ROLE = f"arn:aws:iam::{V}:role/document-storage-role"
CLIENT_ROLE = f"arn:aws:iam::{C}:role/byok-client-role"

# Every KMS API action; the generated policies must allow exactly ALLOWED_FOR_USER of them.
ALL_KMS = (
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncryptFrom",
    "ReEncryptTo",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
)
ALLOWED_FOR_USER = {
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
}
CRYPTO = (
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
)
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["kms:*", "sts:*"], "Resource": "*"}],
}


def _setup(mode: str = "direct", **kw: Any) -> CustomerSetup:
    if mode == "assume-role":
        kw.setdefault("external_id", EXT)
    return CustomerSetup("acme", mode, C, admins=(ADMIN,), **kw)  # type: ignore[arg-type]


def _context(tenant: str | None = "acme") -> dict[str, str]:
    if tenant is None:
        return {}
    return {"kms:EncryptionContext:byok:tenant": tenant, "kms:EncryptionContext:byok:tk": "tk-1"}


def _kms(
    policy: dict[str, Any],
    arns: tuple[str, ...],
    account: str,
    action: str,
    identity: tuple[dict[str, Any], ...] = (EVERYTHING,),
    tenant: str | None = "acme",
    key: str = KEY,
) -> Decision:
    ctx = _context(tenant) if action != "DescribeKey" else {}
    request = Request(arns, account, f"kms:{action}", key, ctx)
    return kms_authorize(
        parse_policy(policy), [parse_policy(p) for p in identity], request, key_account=C
    )


def _vendor_a() -> tuple[str, ...]:
    return (f"arn:aws:sts::{V}:assumed-role/customer-facing-role/svc", CF_ROLE)


def _client() -> tuple[str, ...]:
    return (f"arn:aws:sts::{C}:assumed-role/byok-client-role/byok-acme", CLIENT_ROLE)


def test_public_names_match_all() -> None:
    public = {n for n in vars(templates) if not n.startswith("_")}
    assert set(templates.__all__) <= public
    assert {
        "CustomerSetup",
        "VendorIdentity",
        "customer_kit",
        "cloudformation_template",
        "terraform_config",
        "new_key_policy",
    } <= set(templates.__all__)


def test_the_unconditioned_statement_is_the_guides_statement() -> None:
    [statement] = vendor_key_statements(VENDOR, _setup(hardening=False))
    assert statement == {
        "Sid": "Allow the vendor role to use the key",
        "Effect": "Allow",
        "Principal": {"AWS": CF_ROLE},
        "Action": [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:DescribeKey",
        ],
        "Resource": "*",
    }


@pytest.mark.parametrize("hardening", [False, True])
def test_option_a_vendor_gets_exactly_the_five_actions(hardening: bool) -> None:
    policy = new_key_policy(VENDOR, _setup(hardening=hardening))
    allowed = {a for a in ALL_KMS if _kms(policy, _vendor_a(), V, a).allowed}
    assert allowed == ALLOWED_FOR_USER
    assert not _kms(policy, _vendor_a(), V, "PutKeyPolicy").allowed
    assert not _kms(policy, _vendor_a(), V, "ScheduleKeyDeletion").allowed


def test_option_a_needs_the_vendors_own_iam_allow_too() -> None:
    policy = new_key_policy(VENDOR, _setup())
    assert _kms(policy, _vendor_a(), V, "Decrypt", identity=()) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    "principal",
    [
        (f"arn:aws:iam::{V}:role/another-vendor-role",),
        (DSR_ROLE,),
        (f"arn:aws:iam::{X}:role/customer-facing-role",),
        (f"arn:aws:iam::{V}:root",),
    ],
)
def test_option_a_refuses_every_other_principal(principal: tuple[str, ...]) -> None:
    policy = new_key_policy(VENDOR, _setup())
    account = principal[0].split(":")[4]
    assert not any(_kms(policy, principal, account, a).allowed for a in ALL_KMS)


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_hardening_refuses_another_tenants_context(mode: str) -> None:
    setup = _setup(mode, hardening=True, key_arn=KEY)
    policy = new_key_policy(VENDOR, setup)
    caller, account = (_vendor_a(), V) if mode == "direct" else (_client(), C)
    identity = (EVERYTHING,) if mode == "direct" else (client_permissions_policy(VENDOR, setup),)
    for action in CRYPTO:
        assert _kms(policy, caller, account, action, identity).allowed
        assert not _kms(policy, caller, account, action, identity, tenant="globex").allowed
        assert not _kms(policy, caller, account, action, identity, tenant=None).allowed
    assert _kms(policy, caller, account, "DescribeKey", identity, tenant=None).allowed


def test_hardening_splits_describe_key_and_pins_the_caller_account() -> None:
    use, describe = vendor_key_statements(VENDOR, _setup(hardening=True))
    assert use["Action"] == list(KEY_USE_ACTIONS[:4])
    assert use["Condition"] == {
        "StringEquals": {"kms:CallerAccount": V, "kms:EncryptionContext:byok:tenant": "acme"}
    }
    assert describe["Action"] == ["kms:DescribeKey"]
    assert describe["Condition"] == {"StringEquals": {"kms:CallerAccount": V}}


def test_the_default_statement_is_bound_to_the_tenant() -> None:
    assert vendor_key_statements(VENDOR, _setup()) == vendor_key_statements(
        VENDOR, _setup(hardening=True)
    )


def test_without_hardening_any_context_is_accepted() -> None:
    policy = new_key_policy(VENDOR, _setup(hardening=False))
    assert _kms(policy, _vendor_a(), V, "Decrypt", tenant="globex").allowed


def test_key_administrators_get_no_cryptographic_action() -> None:
    policy = new_key_policy(VENDOR, _setup())
    admin = (f"arn:aws:sts::{C}:assumed-role/KeyAdmin/alice", ADMIN)
    for action in CRYPTO:
        assert not _kms(policy, admin, C, action, identity=()).allowed
    for action in ("PutKeyPolicy", "ScheduleKeyDeletion", "DisableKey", "EnableKeyRotation"):
        assert _kms(policy, admin, C, action, identity=()).allowed


def test_key_policy_without_admins_has_root_and_user_only() -> None:
    setup = CustomerSetup("acme", "direct", C)
    sids = [s["Sid"] for s in new_key_policy(VENDOR, setup)["Statement"]]
    assert sids == [
        "Enable IAM User Permissions",
        "Allow the vendor role to use the key for this tenant only",
        "Allow the vendor role to describe the key",
    ]
    weaker = replace(setup, hardening=False)
    sids = [s["Sid"] for s in new_key_policy(VENDOR, weaker)["Statement"]]
    assert sids == ["Enable IAM User Permissions", "Allow the vendor role to use the key"]


def _assume(trust: dict[str, Any], arns: tuple[str, ...], external_id: str | None) -> Decision:
    account = arns[-1].split(":")[4]
    ctx = {} if external_id is None else {"sts:ExternalId": external_id}
    request = Request(arns, account, "sts:AssumeRole", CLIENT_ROLE, ctx)
    return assume_role_authorize(
        parse_policy(trust), [parse_policy(EVERYTHING)], request, role_account=C
    )


DSR = (f"arn:aws:sts::{V}:assumed-role/document-storage-role/svc", DSR_ROLE)


@pytest.mark.parametrize(
    ("caller", "external_id", "allowed"),
    [
        (DSR, EXT, True),
        (DSR, None, False),
        (DSR, EXT + "x", False),
        (DSR, EXT.upper(), False),
        (DSR, "", False),
        (_vendor_a(), EXT, False),
        ((f"arn:aws:iam::{X}:role/document-storage-role",), EXT, False),
        ((f"arn:aws:iam::{C}:role/other",), EXT, False),
    ],
)
def test_trust_policy_requires_the_vendor_role_and_the_external_id(
    caller: tuple[str, ...], external_id: str | None, allowed: bool
) -> None:
    trust = client_trust_policy(VENDOR, _setup("assume-role"))
    assert _assume(trust, caller, external_id).allowed is allowed


def test_option_b_client_role_gets_exactly_the_five_actions() -> None:
    setup = _setup("assume-role", key_arn=KEY)
    policy, permissions = new_key_policy(VENDOR, setup), client_permissions_policy(VENDOR, setup)
    allowed = {a for a in ALL_KMS if _kms(policy, _client(), C, a, (permissions,)).allowed}
    assert allowed == ALLOWED_FOR_USER
    # The vendor's own roles cannot use the key directly: only through the client role.
    assert not any(_kms(policy, DSR, V, a).allowed for a in ALL_KMS)


def test_option_b_permissions_policy_names_exactly_the_key() -> None:
    permissions = parse_policy(
        client_permissions_policy(VENDOR, _setup("assume-role", key_arn=KEY, hardening=False))
    )
    validate_policy_type(permissions, resource_policy=False)
    for key, expected in ((KEY, Decision.ALLOW), (OTHER_KEY, Decision.IMPLICIT_DENY)):
        request = Request(_client(), C, "kms:Decrypt", key)
        assert evaluate(permissions, request, resource_policy=False) is expected
    request = Request(_client(), C, "kms:PutKeyPolicy", KEY)
    assert evaluate(permissions, request, resource_policy=False) is Decision.IMPLICIT_DENY


def test_generated_documents_are_valid_policies_of_their_type() -> None:
    setup = _setup("assume-role", key_arn=KEY, hardening=True)
    validate_policy_type(parse_policy(new_key_policy(VENDOR, setup)), resource_policy=True)
    validate_policy_type(parse_policy(client_trust_policy(VENDOR, setup)), resource_policy=True)


def test_trust_and_permissions_need_option_b_and_a_key() -> None:
    with pytest.raises(InvalidInput) as caught:
        client_trust_policy(VENDOR, _setup())
    assert caught.value.field == "mode"
    with pytest.raises(InvalidInput) as caught:
        client_permissions_policy(VENDOR, _setup("assume-role"))
    assert caught.value.field == "key_arn"


def test_merge_key_policy_is_idempotent_and_keeps_other_statements() -> None:
    existing = {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{C}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    once = merge_key_policy(existing, VENDOR, _setup(hardening=False))
    assert merge_key_policy(once, VENDOR, _setup(hardening=False)) == once
    assert len(existing["Statement"]) == 1
    hardened = merge_key_policy(once, VENDOR, _setup(hardening=True))
    assert [s["Sid"] for s in hardened["Statement"]] == [
        "Enable IAM User Permissions",
        "Allow the vendor role to use the key for this tenant only",
        "Allow the vendor role to describe the key",
    ]
    assert hardened["Id"] == "key-default-1"
    with pytest.raises(InvalidInput):
        merge_key_policy({"Version": "2012-10-17"}, VENDOR, _setup())


@pytest.mark.parametrize("mode", ["direct", "assume-role"])
def test_handover_is_accepted_by_the_vendor_side(mode: str) -> None:
    config = handover_config(_setup(mode), KEY)
    parsed = TenantKeyConfig.from_dict(config)
    assert parsed.to_dict() | {"version": 1} == {
        **config,
        "version": 1,
        "client_role_arn": config.get("client_role_arn"),
        "external_id": config.get("external_id"),
    }
    with pytest.raises(InvalidInput):
        handover_config(_setup(mode))
    with pytest.raises(InvalidInput) as caught:
        handover_config(_setup(mode, region="eu-west-1"), KEY)
    assert caught.value.field == "region"


def test_render_json_is_exact_and_stable() -> None:
    doc = new_key_policy(VENDOR, _setup(hardening=True))
    text = render_json(doc)
    assert text.endswith("}\n") and text == render_json(json.loads(text))
    assert text.index('"Sid"') < text.index('"Effect"') < text.index('"Principal"')


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tenant": "bad tenant"}, "tenant"),
        ({"tenant": "acme\n"}, "tenant"),
        ({"mode": "both"}, "mode"),
        ({"customer_account": "1234"}, "customer_account"),
        ({"external_id": EXT}, "external_id"),
        ({"mode": "assume-role"}, "external_id"),
        ({"mode": "assume-role", "external_id": "x"}, "external_id"),
        ({"mode": "assume-role", "external_id": "has space"}, "external_id"),
        ({"mode": "assume-role", "external_id": "a" * 1225}, "external_id"),
        ({"mode": "assume-role", "external_id": EXT + "\n"}, "external_id"),
        (
            {"mode": "assume-role", "external_id": EXT, "client_role_name": "a/b"},
            "client_role_name",
        ),
        ({"key_arn": KEY.replace(C, X)}, "key_arn"),
        ({"key_arn": "alias/byok"}, "key_arn"),
        ({"key_arn": KEY, "region": "eu-west-1"}, "region"),
        ({"region": "mars-1"}, "region"),
        ({"admins": (f"arn:aws:iam::{X}:role/Admin",)}, "admins"),
        ({"admins": (f"arn:aws:iam::{C}:role/a,b",)}, "admins"),
        ({"admins": (ADMIN, ADMIN)}, "admins"),
        ({"admins": "arn:aws:iam::111122223333:role/KeyAdmin"}, "admins"),
        ({"key_alias": "alias/aws/kms"}, "key_alias"),
        ({"key_alias": "byok"}, "key_alias"),
        ({"hardening": "yes"}, "hardening"),
    ],
)
def test_setup_validation_names_the_field_and_the_fix(kwargs: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {"tenant": "acme", "mode": "direct", "customer_account": C}
    with pytest.raises(InvalidInput) as caught:
        CustomerSetup(**(base | kwargs))
    assert caught.value.field == field
    assert caught.value.fix


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"account": "12345678901"}, "vendor_account"),
        ({"account": V, "customer_facing_role": "arn:aws:iam::1:role/x"}, "customer_facing_role"),
        ({"account": V, "document_storage_role": ""}, "document_storage_role"),
        ({"account": V, "partition": "aws-mars"}, "partition"),
    ],
)
def test_vendor_identity_validation(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        VendorIdentity(**kwargs)
    assert caught.value.field == field


def test_setup_defaults_and_derived_values() -> None:
    setup = CustomerSetup("acme.eu", "assume-role", C, external_id=EXT, admins=[ADMIN])  # type: ignore[arg-type]
    assert setup.admins == (ADMIN,)
    assert setup.alias == "alias/byok-acme-eu"
    assert setup.key_region == "us-east-1"
    assert setup.client_role_arn == f"arn:aws:iam::{C}:role/byok-client-role"
    assert replace(setup, region="cn-north-1").root_arn == f"arn:aws-cn:iam::{C}:root"
    assert (
        CustomerSetup("acme", "direct", C, key_arn=KEY.replace("us-east-1", "eu-west-1")).key_region
        == "eu-west-1"
    )
    user = f"arn:aws:iam::{C}:user/alice"
    assert CustomerSetup("acme", "direct", C, admins=(user,)).admins == (user,)


def test_hcl_strings_never_interpolate() -> None:
    assert string('a"b\\c') == '"a\\"b\\\\c"'
    assert string("${var.x} %{if} $x %x") == '"$${var.x} %%{if} $x %x"'
    assert string("line\nbreak\x01") == '"line\\nbreak\\u0001"'


_TENANTS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
_EXTERNAL_IDS = st.from_regex(r"[A-Za-z0-9_+=,.@:/-]{2,40}", fullmatch=True)
_ROLE_NAMES = st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,30}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(tenant=_TENANTS, external_id=_EXTERNAL_IDS, role=_ROLE_NAMES, hardening=st.booleans())
def test_any_valid_setup_grants_exactly_the_tenant_and_the_external_id(
    tenant: str, external_id: str, role: str, hardening: bool
) -> None:
    vendor = VendorIdentity(V, document_storage_role=role)
    setup = CustomerSetup(
        tenant,
        "assume-role",
        C,
        key_arn=KEY,
        external_id=external_id,
        client_role_name="client",
        hardening=hardening,
    )
    for document in (
        new_key_policy(vendor, setup),
        client_trust_policy(vendor, setup),
        client_permissions_policy(vendor, setup),
    ):
        assert json.loads(render_json(document)) == document
    trust = parse_policy(client_trust_policy(vendor, setup))
    caller = (f"arn:aws:sts::{V}:assumed-role/{role}/s", f"arn:aws:iam::{V}:role/{role}")
    client = f"arn:aws:iam::{C}:role/client"
    for given_id, expected in ((external_id, True), (None, False), (external_id + "x", False)):
        ctx = {} if given_id is None else {"sts:ExternalId": given_id}
        request = Request(caller, V, "sts:AssumeRole", client, ctx)
        decision = assume_role_authorize(trust, [parse_policy(EVERYTHING)], request, role_account=C)
        assert decision.allowed is expected
    session = (f"arn:aws:sts::{C}:assumed-role/client/s", client)
    policy, permissions = new_key_policy(vendor, setup), client_permissions_policy(vendor, setup)
    assert _kms(policy, session, C, "Decrypt", (permissions,), tenant=tenant).allowed
    other = _kms(policy, session, C, "Decrypt", (permissions,), tenant=tenant + "x").allowed
    assert other is not hardening
    assert not _kms(policy, session, C, "PutKeyPolicy", (permissions,), tenant=tenant).allowed
