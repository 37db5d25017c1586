"""The STS part of the fidelity layer: trust policies, External IDs, caller identity.

``sts:AssumeRole`` (IAM User Guide, "How to use an external ID", "Cross-account policy
evaluation logic"): the role must exist; its trust policy must allow the caller (an
assumed-role session is named by its role ARN and its session ARN; an IAM user by its ARN; an
account's root user by ``arn:aws:iam::<id>:root``) with every condition holding, notably
``sts:ExternalId`` (a missing External ID fails a StringEquals condition); and a caller from
another account also needs an identity policy allowing ``sts:AssumeRole`` on the role (the
root user has it implicitly). Decided by :func:`byok.core.policy.evaluate.assume_role_authorize`.
Role chaining is limited to one-hour sessions, as in AWS.

``GetCallerIdentity`` for the root user (an access key ``ROOT<account>``) answers with the
root ARN; other callers are answered by moto from the session or user behind the key.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from byok.core.policy.evaluate import Request, assume_role_authorize
from byok.errors import InvalidInput
from byok.localaws.accounts import Caller, identity_policies, parsed_policy, role_by_arn
from byok.localaws.trail import EventLog
from byok.localaws.wire import AwsError, Call, Response, WsgiApp, call_app, xml_response

__all__ = ["StsFidelity"]

_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_CHAIN_LIMIT_S = 3600


class StsFidelity:
    """Serves STS calls with AWS's trust-policy rules on top of moto."""

    def __init__(self, moto_app: WsgiApp, trail: EventLog) -> None:
        self._app = moto_app
        self._trail = trail

    def handle(self, call: Call, caller: Caller) -> Response:
        """Serve one STS call by ``caller``.

        Returns:
            moto's answer, or ours for root GetCallerIdentity.

        Raises:
            AwsError: AccessDenied (403) or ValidationError (400) for a refused AssumeRole.
        """
        if call.operation == "GetCallerIdentity" and caller.kind == "Root":
            return _root_identity(call, caller)
        if call.operation != "AssumeRole":
            return self._forward(call, caller)
        try:
            role_arn = self._authorize(call, caller)
        except AwsError as exc:
            self._record(call, caller, None, exc)
            raise
        response = self._forward(call, caller)
        self._record(call, caller, role_arn, None)
        return response

    def _forward(self, call: Call, caller: Caller) -> Response:
        call.serve_as(caller.account, call.region)
        response = call_app(self._app, call.environ)
        response.set_header("x-amzn-RequestId", call.request_id)
        response.body = _with_request_id(response.body, call.request_id)
        return response

    def _authorize(self, call: Call, caller: Caller) -> str:
        form = call.form()
        role_arn = form.get("RoleArn", "")
        denied = AwsError(
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}",
            403,
        )
        role = role_by_arn(role_arn)
        if role is None:
            raise denied
        context: dict[str, str | list[str]] = {}
        if "ExternalId" in form:
            context["sts:ExternalId"] = form["ExternalId"]
        if "RoleSessionName" in form:
            context["sts:RoleSessionName"] = form["RoleSessionName"]
        try:
            trust = parsed_policy(role.assume_role_policy_document, resource_policy=True)
            identity = [parsed_policy(t, resource_policy=False) for t in identity_policies(caller)]
            request = Request(
                caller.principal_arns, caller.account, "sts:AssumeRole", role_arn, context
            )
            decision = assume_role_authorize(
                trust, identity, request, role_account=role_arn.split(":")[4]
            )
        except InvalidInput as exc:
            raise denied from exc
        if not decision.allowed:
            raise denied
        _check_duration(form, caller, role)
        return role_arn

    def _record(
        self, call: Call, caller: Caller, role_arn: str | None, error: AwsError | None
    ) -> None:
        form = call.form()
        target = role_arn or form.get("RoleArn", "")
        parts = target.split(":")
        owner = parts[4] if len(parts) > 5 and role_by_arn(target) is not None else None
        parameters = {
            k[0].lower() + k[1:]: v
            for k, v in form.items()
            if k in ("RoleArn", "RoleSessionName", "ExternalId", "DurationSeconds")
        }
        self._trail.record(
            caller=caller,
            source="sts.amazonaws.com",
            name="AssumeRole",
            region=call.region,
            request_id=call.request_id,
            owners=[owner] if owner else [],
            resources=[{"accountId": owner, "type": "AWS::IAM::Role", "ARN": target}]
            if owner
            else [],
            parameters=parameters,
            error=error,
            read_only=True,
            user_agent=call.environ.get("HTTP_USER_AGENT", ""),
            source_ip=call.environ.get("REMOTE_ADDR", "127.0.0.1"),
        )


def _check_duration(form: dict[str, str], caller: Caller, role: object) -> None:
    raw = form.get("DurationSeconds")
    if raw is None:
        return
    try:
        seconds = int(raw)
    except ValueError:
        raise AwsError("ValidationError", "DurationSeconds must be a number.") from None
    if caller.kind == "AssumedRole" and seconds > _CHAIN_LIMIT_S:
        raise AwsError(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour "
            "session limit for roles assumed by role chaining.",
        )
    maximum = int(getattr(role, "max_session_duration", None) or _CHAIN_LIMIT_S)
    if seconds > maximum:
        raise AwsError(
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        )


def _root_identity(call: Call, caller: Caller) -> Response:
    xml = (
        f'<GetCallerIdentityResponse xmlns="{_NS}"><GetCallerIdentityResult>'
        f"<Arn>{escape(caller.arn)}</Arn><UserId>{caller.account}</UserId>"
        f"<Account>{caller.account}</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{call.request_id}</RequestId></ResponseMetadata>"
        f"</GetCallerIdentityResponse>"
    )
    return xml_response(xml, call.request_id)


def _with_request_id(body: bytes, request_id: str) -> bytes:
    start = body.find(b"<RequestId>")
    end = body.find(b"</RequestId>", start)
    if start < 0 or end < 0:
        return body
    return body[: start + len(b"<RequestId>")] + request_id.encode() + body[end:]
