"""Push revocation: the customer's EventBridge rules that forward key and role events.

Channel (docs/OPERATIONS.md#push-revocation): an **EventBridge API destination** in the
customer's account calling the vendor's HTTPS receiver, authenticated by an EventBridge
*connection* with API-key auth (header ``X-Byok-Event-Key``, value: the tenant's key-event
secret, kept by EventBridge in Secrets Manager). Chosen over a cross-account event bus
because it needs nothing in the vendor's AWS account per tenant (no bus policy listing every
customer), works for a vendor outside AWS, and EventBridge retries for 24 h; the receiver
never trusts an event's content, only re-probes, so API-key auth is enough.

Resources (CloudFormation JSON and Terraform, the same shape):

* a connection (API key) and an API destination (POST to the receiver, rate limited);
* an IAM role EventBridge assumes to invoke the destination (``events:InvokeApiDestination``
  on exactly it);
* rule ``byok-<tenant>-key-events``: CloudTrail-delivered KMS calls on the tenant's key
  (``DisableKey``, ``ScheduleKeyDeletion``, ``PutKeyPolicy``, grant changes, and the
  recoveries ``EnableKey`` / ``CancelKeyDeletion``) matched on the key ARN in
  ``detail.resources``;
* Option B: rule ``byok-<tenant>-role-events``: IAM calls on the client role
  (``UpdateAssumeRolePolicy``, ``DeleteRole``, role policy changes). IAM events are
  delivered in ``us-east-1`` only: deploy the role rule there.

Pure: builds documents only (no AWS calls).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from byok.core.arn import parse_key_arn
from byok.core.policy.templates.hcl import Block, Expr, render_body, string
from byok.core.tenant_config import validate_tenant_id
from byok.errors import InvalidInput

__all__ = [
    "EVENT_KEY_HEADER",
    "KEY_EVENT_NAMES",
    "ROLE_EVENT_NAMES",
    "ForwardingSetup",
    "forwarding_cloudformation",
    "forwarding_terraform",
]

EVENT_KEY_HEADER: Final = "X-Byok-Event-Key"
KEY_EVENT_NAMES: Final = (
    "DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "RevokeGrant", "RetireGrant",
    "CreateGrant", "DeleteImportedKeyMaterial", "EnableKey", "CancelKeyDeletion",
)  # fmt: skip
ROLE_EVENT_NAMES: Final = (
    "UpdateAssumeRolePolicy", "DeleteRole", "PutRolePolicy", "DeleteRolePolicy",
    "AttachRolePolicy", "DetachRolePolicy", "UpdateRole",
)  # fmt: skip
_RATE_PER_SECOND: Final = 10


@dataclass(frozen=True)
class ForwardingSetup:
    """What the rules forward and where.

    Raises:
        InvalidInput: a malformed tenant, key ARN, role ARN or endpoint (named).
    """

    tenant: str
    key_arn: str
    endpoint: str
    client_role_arn: str | None = None

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant)
        parse_key_arn(self.key_arn, field="key_arn")
        if not self.endpoint.startswith("https://") or len(self.endpoint) > 2048:
            raise InvalidInput(
                "endpoint", "must be the vendor's https:// key-event URL",
                fix="Use the URL the vendor gave, e.g. https://byok.vendor.example/v1/key-events/"
                f"{self.tenant}.",
            )  # fmt: skip
        if self.client_role_arn is not None and ":role/" not in self.client_role_arn:
            raise InvalidInput("client_role_arn", "must be an IAM role ARN (arn:aws:iam::...)")

    @property
    def role_name(self) -> str | None:
        """The client role's name (its ARN's last path part)."""
        return None if self.client_role_arn is None else self.client_role_arn.rsplit("/", 1)[1]

    def key_pattern(self) -> dict[str, Any]:
        """The EventBridge pattern of the tenant's key events."""
        return {
            "source": ["aws.kms"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["kms.amazonaws.com"],
                "eventName": list(KEY_EVENT_NAMES),
                "resources": {"ARN": [self.key_arn]},
            },
        }

    def role_pattern(self) -> dict[str, Any] | None:
        """The EventBridge pattern of the client role's events (Option B), else None."""
        if self.role_name is None:
            return None
        return {
            "source": ["aws.iam"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["iam.amazonaws.com"],
                "eventName": list(ROLE_EVENT_NAMES),
                "requestParameters": {"roleName": [self.role_name]},
            },
        }


def forwarding_cloudformation(setup: ForwardingSetup) -> dict[str, Any]:
    """The CloudFormation template (JSON) of the forwarding rules.

    Returns:
        The template; its ``EventKey`` parameter (NoEcho) takes the tenant's secret.
    """
    resources: dict[str, Any] = {
        "Connection": {"Type": "AWS::Events::Connection", "Properties": {
            "Name": f"byok-{setup.tenant}", "AuthorizationType": "API_KEY",
            "AuthParameters": {"ApiKeyAuthParameters": {
                "ApiKeyName": EVENT_KEY_HEADER, "ApiKeyValue": {"Ref": "EventKey"}}}}},
        "Destination": {"Type": "AWS::Events::ApiDestination", "Properties": {
            "Name": f"byok-{setup.tenant}", "ConnectionArn": {"Fn::GetAtt": ["Connection", "Arn"]},
            "InvocationEndpoint": setup.endpoint, "HttpMethod": "POST",
            "InvocationRateLimitPerSecond": _RATE_PER_SECOND}},
        "InvokeRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": _document({"Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}),
            "Policies": [{"PolicyName": "byok-invoke-destination", "PolicyDocument": _document({
                "Effect": "Allow", "Action": "events:InvokeApiDestination",
                "Resource": {"Fn::GetAtt": ["Destination", "Arn"]}})}]}},
        "KeyEventsRule": _cfn_rule(f"byok-{setup.tenant}-key-events", setup.key_pattern()),
    }  # fmt: skip
    role_pattern = setup.role_pattern()
    if role_pattern is not None:
        resources["RoleEventsRule"] = _cfn_rule(f"byok-{setup.tenant}-role-events", role_pattern)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"byok push revocation for tenant {setup.tenant}: forward key and role "
        "events to the vendor (IAM events arrive in us-east-1 only).",
        "Parameters": {"EventKey": {
            "Type": "String", "NoEcho": True, "MinLength": 16,
            "Description": "The tenant's key-event secret from the vendor (byokev_...)"}},
        "Resources": resources,
        "Outputs": {"ApiDestinationArn": {"Value": {"Fn::GetAtt": ["Destination", "Arn"]}}},
    }  # fmt: skip


def _cfn_rule(name: str, pattern: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "AWS::Events::Rule", "Properties": {
        "Name": name, "State": "ENABLED", "EventPattern": pattern,
        "Targets": [{"Id": "byok-vendor", "Arn": {"Fn::GetAtt": ["Destination", "Arn"]},
                     "RoleArn": {"Fn::GetAtt": ["InvokeRole", "Arn"]},
                     "RetryPolicy": {"MaximumEventAgeInSeconds": 86400,
                                     "MaximumRetryAttempts": 185}}]}}  # fmt: skip


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def forwarding_terraform(setup: ForwardingSetup) -> str:
    """The Terraform configuration (HCL) of the forwarding rules.

    Returns:
        The HCL text; variable ``event_key`` (sensitive) takes the tenant's secret.
    """
    tenant = setup.tenant
    trust = _hcl_json(_document({"Effect": "Allow", "Action": "sts:AssumeRole",
                                 "Principal": {"Service": "events.amazonaws.com"}}))  # fmt: skip
    blocks: list[Block] = [
        Block("variable", ("event_key",), [
            ("description", "The tenant's key-event secret from the vendor (byokev_...)"),
            ("type", Expr("string")), ("sensitive", True)]),
        Block("resource", ("aws_cloudwatch_event_connection", "byok"), [
            ("name", f"byok-{tenant}"), ("authorization_type", "API_KEY"),
            Block("auth_parameters", (), [Block("api_key", (), [
                ("key", EVENT_KEY_HEADER), ("value", Expr("var.event_key"))])])]),
        Block("resource", ("aws_cloudwatch_event_api_destination", "byok"), [
            ("name", f"byok-{tenant}"), ("invocation_endpoint", setup.endpoint),
            ("http_method", "POST"), ("invocation_rate_limit_per_second", _RATE_PER_SECOND),
            ("connection_arn", Expr("aws_cloudwatch_event_connection.byok.arn"))]),
        Block("resource", ("aws_iam_role", "byok_invoke"), [
            ("name_prefix", "byok-invoke-"),
            ("assume_role_policy", Expr(f"jsonencode({trust})"))]),
        Block("resource", ("aws_iam_role_policy", "byok_invoke"), [
            ("role", Expr("aws_iam_role.byok_invoke.id")), ("name", "byok-invoke-destination"),
            ("policy", Expr("jsonencode({ Version = \"2012-10-17\", Statement = [{ Effect = "
                            "\"Allow\", Action = \"events:InvokeApiDestination\", Resource = "
                            "aws_cloudwatch_event_api_destination.byok.arn }] })"))]),
    ]  # fmt: skip
    rules = [("key_events", setup.key_pattern()), ("role_events", setup.role_pattern())]
    for name, pattern in rules:
        if pattern is not None:
            blocks += _tf_rule(tenant, name, pattern)
    header = [f"# byok push revocation for tenant {tenant}: forward key and role events.",
              "# IAM events arrive in us-east-1 only: apply the role rule there.",
              "# terraform apply -var event_key=<the secret from the vendor>", ""]  # fmt: skip
    rendered = ["\n".join(render_body([block])) for block in blocks]
    return "\n".join(header) + "\n\n".join(rendered) + "\n"


def _tf_rule(tenant: str, name: str, pattern: dict[str, Any]) -> list[Block]:
    return [
        Block("resource", ("aws_cloudwatch_event_rule", name), [
            ("name", f"byok-{tenant}-{name.replace('_', '-')}"),
            ("event_pattern", Expr(f"jsonencode({_hcl_json(pattern)})"))]),
        Block("resource", ("aws_cloudwatch_event_target", name), [
            ("rule", Expr(f"aws_cloudwatch_event_rule.{name}.name")), ("target_id", "byok-vendor"),
            ("arn", Expr("aws_cloudwatch_event_api_destination.byok.arn")),
            ("role_arn", Expr("aws_iam_role.byok_invoke.arn")),
            Block("retry_policy", (), [("maximum_event_age_in_seconds", 86400),
                                       ("maximum_retry_attempts", 185)])]),
    ]  # fmt: skip


def _hcl_json(value: Any) -> str:
    """A JSON value as an HCL expression (JSON objects are valid HCL object syntax once the
    strings are HCL-escaped, so ``${`` in a value can never interpolate)."""
    if isinstance(value, dict):
        items = ", ".join(f"{json.dumps(k)} = {_hcl_json(v)}" for k, v in value.items())
        return "{ " + items + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_hcl_json(v) for v in value) + "]"
    if isinstance(value, str):
        return string(value)
    return json.dumps(value)
