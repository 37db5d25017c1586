"""Push-revocation forwarding rules (CloudFormation and Terraform) for the customer.

The rules must match exactly this tenant's key (by ARN) and client role (by name), reach the
vendor through an API destination whose connection sends the secret as an API key, pass
cfn-lint, parse as HCL, and match the events the local AWS delivers for those calls.
"""

from __future__ import annotations

import json
from typing import Any

import hcl2
import pytest

from byok.core.policy.templates import render_json
from byok.core.policy.templates.forwarding import (
    EVENT_KEY_HEADER,
    ForwardingSetup,
    forwarding_cloudformation,
    forwarding_terraform,
)
from byok.errors import InvalidInput

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/byok-client"
SETUP = ForwardingSetup("acme", KEY, "https://byok.vendor.example/v1/key-events/acme", ROLE)


def matches(pattern: Any, value: Any) -> bool:
    """A small EventBridge matcher: lists are "any of"; arrays of objects match any item."""
    if isinstance(value, list):
        return any(matches(pattern, item) for item in value)
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and matches(v, value[k]) for k, v in pattern.items()
        )
    return value in pattern


def kms_event(name: str, key_arn: str = KEY) -> dict[str, Any]:
    return {"source": "aws.kms", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": "kms.amazonaws.com", "eventName": name,
                       "resources": [{"ARN": key_arn, "type": "AWS::KMS::Key"}]}}  # fmt: skip


def iam_event(name: str, role: str = "byok-client") -> dict[str, Any]:
    return {"source": "aws.iam", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": "iam.amazonaws.com", "eventName": name,
                       "requestParameters": {"roleName": role}}}  # fmt: skip


def test_rules_match_this_tenants_key_and_role_only() -> None:
    key, role = SETUP.key_pattern(), SETUP.role_pattern()
    assert role is not None
    for name in ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "RevokeGrant", "EnableKey"):
        assert matches(key, kms_event(name))
    assert not matches(key, kms_event("DisableKey", KEY.replace("1234abcd", "99999999")))
    assert not matches(key, kms_event("Decrypt"))  # read calls are not forwarded
    for name in ("UpdateAssumeRolePolicy", "DeleteRole", "DetachRolePolicy"):
        assert matches(role, iam_event(name))
    assert not matches(role, iam_event("DeleteRole", "someone-else"))
    assert ForwardingSetup("acme", KEY, SETUP.endpoint).role_pattern() is None


def test_cloudformation_passes_cfn_lint_and_sends_the_api_key() -> None:
    cfnlint_api = pytest.importorskip("cfnlint.api", reason="cfn-lint is in the dev extra")
    template = forwarding_cloudformation(SETUP)
    assert [str(m) for m in cfnlint_api.lint(render_json(template), regions=["us-east-1"])] == []
    resources = template["Resources"]
    auth = resources["Connection"]["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert auth == {"ApiKeyName": EVENT_KEY_HEADER, "ApiKeyValue": {"Ref": "EventKey"}}
    assert template["Parameters"]["EventKey"]["NoEcho"] is True
    assert {"KeyEventsRule", "RoleEventsRule"} <= set(resources)
    invoke = resources["InvokeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert invoke[0]["Action"] == "events:InvokeApiDestination"
    assert invoke[0]["Resource"] == {"Fn::GetAtt": ["Destination", "Arn"]}


def test_terraform_parses_and_keeps_the_secret_sensitive() -> None:
    text = forwarding_terraform(SETUP)
    parsed = hcl2.loads(text)
    resources = {
        name.strip('"') for block in parsed["resource"] for kind in block.values() for name in kind
    }
    assert {"byok", "key_events", "role_events", "byok_invoke"} <= resources
    variable = parsed["variable"][0]
    assert next(iter(variable.values()))["sensitive"] is True
    assert (
        KEY in text and "byok-client" in text and "byokev_" not in text.replace("(byokev_...)", "")
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"endpoint": "http://plain.example/x"}, "endpoint"),
     ({"key_arn": "alias/acme"}, "key_arn"),
     ({"client_role_arn": "arn:aws:iam::111122223333:user/bob"}, "client_role_arn"),
     ({"tenant": "Bad Tenant!"}, "tenant")],
)  # fmt: skip
def test_bad_input_names_the_field(kwargs: dict[str, str], field: str) -> None:
    values = {"tenant": "acme", "key_arn": KEY, "endpoint": SETUP.endpoint, **kwargs}
    with pytest.raises(InvalidInput) as caught:
        ForwardingSetup(**values)
    assert field in str(caught.value)


def test_the_local_aws_event_shape_matches_the_key_rule() -> None:
    # The shape docs/local-aws.md#key-events delivers (resources carry the key ARN).
    delivered = json.loads(json.dumps(kms_event("ScheduleKeyDeletion")))
    assert matches(SETUP.key_pattern(), delivered)
