"""The customer's set-up as one CloudFormation template (JSON, which CloudFormation accepts).

The template creates what the customer guide asks for, with the policies of
:mod:`byok.core.policy.templates.policies` written through intrinsic functions:

* a symmetric ``ENCRYPT_DECRYPT`` key with automatic rotation, its alias and description, and
  its key policy (root, key administrators when given, the key user). The key is *retained*
  when the stack or the resource is deleted: deleting it would destroy every document of the
  tenant, so that must be a deliberate act in KMS, with its waiting period;
* Option B: the client role (trust policy requiring the External ID) and, as a separate
  ``AWS::IAM::RolePolicy``, its permissions on exactly the new key. The split avoids a cycle:
  the key policy names the role (so the role comes first) and the role's policy names the key.

Parameters default to the customer's values, so the template deploys as generated; outputs
are what to hand to the vendor, including one ``VendorConfiguration`` JSON line.
"""

from __future__ import annotations

from typing import Any, Final

from byok.core.policy.templates.inputs import CustomerSetup, VendorIdentity
from byok.core.policy.templates.policies import (
    PolicyValues,
    admin_statement,
    key_policy_document,
    key_user_statements,
    permissions_policy_document,
    root_statement,
    trust_policy_document,
)
from byok.errors import InvalidInput

__all__ = ["cloudformation_template", "require_new_key"]

_ROLE_NAME_PATTERN: Final = r"^[\w+=,.@-]{1,64}$"
_HAS_ADMINS: Final = "HasKeyAdministrators"


def require_new_key(setup: CustomerSetup) -> None:
    """Refuse a set-up that adopts an existing key: the templates create the key.

    Raises:
        InvalidInput: field ``key_arn`` when one is given.
    """
    if setup.key_arn is not None:
        raise InvalidInput(
            "key_arn",
            "the templates create a new key, and an existing key was given",
            fix="Omit key_arn for a template, or add the generated statements to the existing "
            "key's policy instead.",
        )


def cloudformation_template(vendor: VendorIdentity, setup: CustomerSetup) -> dict[str, Any]:
    """Build the CloudFormation template of ``setup`` (render with ``render_json``).

    Returns:
        The template as a dict in a stable order.

    Raises:
        InvalidInput: field ``key_arn`` if ``setup`` adopts an existing key.
    """
    require_new_key(setup)
    b = setup.mode == "assume-role"
    option = "Option B (client role, External ID)" if b else "Option A (direct)"
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"byok: tenant key and vendor access, {option}.",
        "Parameters": _parameters(vendor, setup),
        "Conditions": {
            _HAS_ADMINS: {
                "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "KeyAdminArns"}]}, ""]}]
            },
        },
        "Resources": _resources(setup),
        "Outputs": _outputs(setup),
    }


def _values(setup: CustomerSetup) -> PolicyValues:
    vendor_role = {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${VendorAccountId}:role/${VendorRoleName}"
    }
    b = setup.mode == "assume-role"
    return PolicyValues(
        key_user={"Fn::GetAtt": ["ClientRole", "Arn"]} if b else vendor_role,
        caller_account={"Ref": "AWS::AccountId"} if b else {"Ref": "VendorAccountId"},
        tenant={"Ref": "TenantId"},
        root={"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"},
        admins={"Ref": "KeyAdminArns"},
        key_resource={"Fn::GetAtt": ["Key", "Arn"]},
        trusted_role=vendor_role,
        external_id={"Ref": "ExternalId"},
    )


def _parameters(vendor: VendorIdentity, setup: CustomerSetup) -> dict[str, Any]:
    b = setup.mode == "assume-role"
    params: dict[str, Any] = {
        "TenantId": _param(
            setup.tenant,
            "The tenant id the vendor gave you.",
            AllowedPattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        ),
        "VendorAccountId": _param(
            vendor.account, "The vendor's 12-digit AWS account id.", AllowedPattern=r"^[0-9]{12}$"
        ),
        "VendorRoleName": _param(
            vendor.document_storage_role if b else vendor.customer_facing_role,
            "The vendor role that may " + ("assume the client role." if b else "use the key."),
            AllowedPattern=_ROLE_NAME_PATTERN,
        ),
    }
    if b:
        params["ExternalId"] = _param(
            setup.external_id,
            "The External ID the vendor generated for this tenant.",
            MinLength=2,
            MaxLength=1224,
            AllowedPattern=r"^[\w+=,.@:/-]+$",
        )
        params["ClientRoleName"] = _param(
            setup.client_role_name,
            "Name of the role created for the vendor in this account.",
            AllowedPattern=_ROLE_NAME_PATTERN,
        )
    params["KeyAdminArns"] = {
        "Type": "CommaDelimitedList",
        "Default": ",".join(setup.admins),
        "Description": "IAM role or user ARNs of this account that administer the key "
        "(no cryptographic use). Empty: administer through IAM policies only.",
    }
    params["KeyAlias"] = _param(
        setup.alias, "Alias of the new key.", AllowedPattern=r"^alias/[A-Za-z0-9/_-]+$"
    )
    params["KeyDescription"] = _param(setup.key_description, "Description of the new key.")
    return params


def _param(default: Any, description: str, **constraints: Any) -> dict[str, Any]:
    return {"Type": "String", "Default": default, "Description": description, **constraints}


def _resources(setup: CustomerSetup) -> dict[str, Any]:
    values = _values(setup)
    admins = {"Fn::If": [_HAS_ADMINS, admin_statement(values), {"Ref": "AWS::NoValue"}]}
    users = key_user_statements(
        values, mode=setup.mode, hardening=setup.hardening, levers=setup.levers
    )
    key_policy = key_policy_document([root_statement(values), admins, *users])
    resources: dict[str, Any] = {
        "Key": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": {"Ref": "KeyDescription"},
                "Enabled": True,
                "EnableKeyRotation": True,
                "KeySpec": "SYMMETRIC_DEFAULT",
                "KeyUsage": "ENCRYPT_DECRYPT",
                "MultiRegion": False,
                "PendingWindowInDays": 30,
                "KeyPolicy": key_policy,
                "Tags": [{"Key": "byok:tenant", "Value": {"Ref": "TenantId"}}],
            },
        },
        "KeyAliasName": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": {"Ref": "KeyAlias"}, "TargetKeyId": {"Ref": "Key"}},
        },
    }
    if setup.mode == "assume-role":
        resources.update(_client_role(values, hardening=setup.hardening))
    return resources


def _client_role(values: PolicyValues, *, hardening: bool) -> dict[str, Any]:
    return {
        "ClientRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": {"Ref": "ClientRoleName"},
                "Description": {"Fn::Sub": "byok: the vendor uses tenant ${TenantId}'s key"},
                "AssumeRolePolicyDocument": trust_policy_document(values),
                # Chained role sessions last at most one hour anyway.
                "MaxSessionDuration": 3600,
            },
        },
        "ClientRoleKeyPermissions": {
            "Type": "AWS::IAM::RolePolicy",
            "Properties": {
                "RoleName": {"Ref": "ClientRole"},
                "PolicyName": "byok-use-tenant-key",
                "PolicyDocument": permissions_policy_document(values, hardening=hardening),
            },
        },
    }


def _outputs(setup: CustomerSetup) -> dict[str, Any]:
    outputs: dict[str, Any] = {
        "KeyArn": _output("Hand to the vendor: the key ARN.", {"Fn::GetAtt": ["Key", "Arn"]}),
        "KeyRegion": _output("Hand to the vendor: the key's region.", {"Ref": "AWS::Region"}),
        "KeyAliasName": _output("The key's alias.", {"Ref": "KeyAlias"}),
    }
    config = (
        '{"tenant": "${TenantId}", "mode": "' + setup.mode + '", '
        '"key_arn": "${Key.Arn}", "region": "${AWS::Region}"'
    )
    if setup.mode == "assume-role":
        outputs["ClientRoleArn"] = _output(
            "Hand to the vendor: the client role ARN.", {"Fn::GetAtt": ["ClientRole", "Arn"]}
        )
        outputs["ExternalId"] = _output(
            "Hand to the vendor: the External ID.", {"Ref": "ExternalId"}
        )
        config += ', "client_role_arn": "${ClientRole.Arn}", "external_id": "${ExternalId}"'
    outputs["VendorConfiguration"] = _output(
        "Hand this JSON to the vendor.", {"Fn::Sub": config + "}"}
    )
    return outputs


def _output(description: str, value: Any) -> dict[str, Any]:
    return {"Description": description, "Value": value}
