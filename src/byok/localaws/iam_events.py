"""IAM calls that change a role, recorded as CloudTrail events (and so delivered as key events).

AWS records IAM management events in ``us-east-1`` with ``eventSource`` ``iam.amazonaws.com``
(IAM User Guide, "Logging IAM and AWS STS API calls with AWS CloudTrail"). moto records none;
the fidelity layer serves these operations through moto and records them here, successes and
refusals alike, so ``LookupEvents`` and the key-event targets (:mod:`byok.localaws.events`) see
the changes a customer makes to the vendor's role.
"""

from __future__ import annotations

import re
from typing import Any

from byok.localaws.accounts import Caller, role_arn_by_name
from byok.localaws.trail import EventLog
from byok.localaws.wire import AwsError, Call, Response, WsgiApp, call_app

__all__ = ["ROLE_OPERATIONS", "serve_recorded"]

ROLE_OPERATIONS = frozenset(
    {
        "CreateRole",
        "DeleteRole",
        "UpdateRole",
        "UpdateAssumeRolePolicy",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
    }
)
# query parameter -> CloudTrail requestParameters name
_PARAMETERS = (
    ("RoleName", "roleName"),
    ("PolicyName", "policyName"),
    ("PolicyArn", "policyArn"),
    ("PolicyDocument", "policyDocument"),
    ("AssumeRolePolicyDocument", "assumeRolePolicyDocument"),
    ("Description", "description"),
)
_CODE_RE = re.compile(r"<Code>([^<]+)</Code>")
_MESSAGE_RE = re.compile(r"<Message>([^<]*)</Message>")
_IAM_REGION = "us-east-1"


def serve_recorded(app: WsgiApp, call: Call, caller: Caller, trail: EventLog) -> Response:
    """Serve ``call`` (an IAM role operation of :data:`ROLE_OPERATIONS`) through moto as the
    caller's account and record it in ``trail``.

    Returns:
        moto's response, unchanged.
    """
    form = call.form()
    role_name = form.get("RoleName", "")
    before = role_arn_by_name(caller.account, role_name)  # DeleteRole: gone afterwards
    call.environ["HTTP_X_MOTO_ACCOUNT_ID"] = caller.account
    response = call_app(app, call.environ)
    arn = before or role_arn_by_name(caller.account, role_name)
    error = None
    if response.status >= 400:
        text = response.body.decode("utf-8", "replace")
        code, message = _CODE_RE.search(text), _MESSAGE_RE.search(text)
        error = AwsError(
            code.group(1) if code else "InternalFailure",
            message.group(1) if message else "",
            response.status,
        )
    parameters: dict[str, Any] = {new: form[old] for old, new in _PARAMETERS if old in form}
    resources = [{"accountId": caller.account, "type": "AWS::IAM::Role", "ARN": arn}] if arn else []
    trail.record(
        caller=caller,
        source="iam.amazonaws.com",
        name=call.operation,
        region=_IAM_REGION,
        request_id=response.header("x-amzn-RequestId") or call.request_id,
        owners=[caller.account],
        resources=resources,
        parameters=parameters or None,
        error=error,
        read_only=False,
        user_agent=call.environ.get("HTTP_USER_AGENT", ""),
        source_ip=call.environ.get("REMOTE_ADDR", "127.0.0.1"),
    )
    return response
