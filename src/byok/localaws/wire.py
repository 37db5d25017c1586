"""HTTP plumbing of the local AWS: the incoming call, AWS error bodies, responses.

AWS speaks several protocols; the fidelity layer answers in the one the service uses:

* JSON 1.1 (KMS, CloudTrail): HTTP 400/500 with ``{"__type": code, "message": text}``;
* query / XML (STS, IAM): ``<ErrorResponse><Error><Type/><Code/><Message/></Error>
  <RequestId/></ErrorResponse>``, 403 for access errors;
* REST-XML (S3): ``<Error><Code/><Message/><RequestId/></Error>``.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

__all__ = [
    "AwsError",
    "Call",
    "DropConnection",
    "Response",
    "StartResponse",
    "WsgiApp",
    "error_response",
    "json_response",
    "parse_call",
    "xml_response",
]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_CREDENTIAL_RE = re.compile(r"Credential=([^/\s,]+)/(\d{8})/([^/\s,]+)/([^/\s,]+)/aws4_request")
_MAX_BODY = 16 * 1024 * 1024


class AwsError(Exception):
    """An AWS error answer: error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class DropConnection(Exception):
    """Close the client's connection without sending any response (fault injection)."""


@dataclass
class Call:
    """One incoming AWS request as the fidelity layer sees it.

    Attributes:
        environ: the WSGI environ (its body stream is replaced by :attr:`body`).
        body: the raw request body.
        access_key_id: from the SigV4 ``Credential`` (header or presigned query), or None.
        region: the SigV4 scope region (``us-east-1`` when unsigned).
        service: the SigV4 scope service (``kms``, ``sts``...), or None when unsigned.
        operation: ``X-Amz-Target`` suffix or the query ``Action``; "" if neither.
        request_id: the id returned in ``x-amzn-RequestId`` and recorded in the event log.
    """

    environ: Environ
    body: bytes
    access_key_id: str | None
    region: str
    service: str | None
    operation: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _form: dict[str, str] | None = None

    @property
    def is_json(self) -> bool:
        """True for JSON-protocol calls (those carrying ``X-Amz-Target``)."""
        return "HTTP_X_AMZ_TARGET" in self.environ

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object.

        Raises:
            AwsError: ``SerializationException`` if it is not a JSON object.
        """
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise AwsError("SerializationException", "Request body is not valid JSON") from exc
        if not isinstance(value, dict):
            raise AwsError("SerializationException", "Request body is not a JSON object")
        return value

    def form(self) -> dict[str, str]:
        """The query-protocol parameters (first value of each), from the body or query string."""
        if self._form is None:
            text = self.body.decode("utf-8", "replace") or self.environ.get("QUERY_STRING", "")
            self._form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        return self._form

    def replace_body(self, body: bytes) -> None:
        """Hand ``body`` (instead of the original) to the next application."""
        self.body = body
        self.environ["wsgi.input"] = io.BytesIO(body)
        self.environ["CONTENT_LENGTH"] = str(len(body))

    def serve_as(self, account: str, region: str) -> None:
        """Rewrite the call so that moto serves it from ``account`` and ``region``.

        moto takes the account from ``x-moto-account-id`` and the region from the SigV4
        scope; the caller's own identity has already been checked by the fidelity layer.
        """
        env = self.environ
        env["HTTP_X_MOTO_ACCOUNT_ID"] = account
        auth = env.get("HTTP_AUTHORIZATION", "")
        env["HTTP_AUTHORIZATION"] = _CREDENTIAL_RE.sub(
            lambda m: f"Credential={m[1]}/{m[2]}/{region}/{m[4]}/aws4_request", auth, count=1
        )
        env["HTTP_USER_AGENT"] = re.sub(r"region/\S+", "", env.get("HTTP_USER_AGENT", ""))


def parse_call(environ: Environ) -> Call:
    """Read the body and the SigV4 scope of one request.

    Returns:
        The :class:`Call`; its body is buffered, so the next application can read it again.

    Raises:
        AwsError: ``RequestEntityTooLarge`` (413) for a body over 16 MiB.
    """
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > _MAX_BODY:
        raise AwsError("RequestEntityTooLarge", "Request body is too large", 413)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    # Only the fidelity layer decides which account moto serves; a client cannot.
    environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = query.get("X-Amz-Credential", [""])[0]
        match = _CREDENTIAL_RE.search(f"Credential={credential}/aws4_request")
    access_key, region, service = (match[1], match[3], match[4]) if match else (None, None, None)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    call = Call(environ, body, access_key, region or "us-east-1", service, target)
    if target:
        call.operation = target.rsplit(".", 1)[-1]
    elif (
        environ.get("REQUEST_METHOD") == "POST"
        and service in ("sts", "iam", None)
        and (environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"))
    ):
        call.operation = call.form().get("Action", "")
    return call


@dataclass
class Response:
    """A buffered HTTP response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    def set_header(self, name: str, value: str) -> None:
        """Replace every ``name`` header with one ``name: value``."""
        lower = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lower]
        self.headers.append((name, value))

    def json(self) -> Any:
        """The body decoded as JSON (None if it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def send(self, start_response: StartResponse) -> list[bytes]:
        """Start the WSGI response; return the body iterable."""
        self.set_header("Content-Length", str(len(self.body)))
        start_response(f"{self.status} {_REASONS.get(self.status, 'Status')}", self.headers)
        return [self.body]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def json_response(value: Any, request_id: str, status: int = 200) -> Response:
    """A JSON 1.1 response carrying ``request_id``."""
    body = json.dumps(value).encode()
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
    return Response(status, headers, body)


def xml_response(xml: str, request_id: str, status: int = 200) -> Response:
    """An XML response carrying ``request_id``."""
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return Response(status, headers, xml.encode())


def error_response(call: Call, error: AwsError) -> Response:
    """``error`` in the wire format of ``call``'s protocol (JSON, query XML or S3 XML)."""
    rid = call.request_id
    if call.is_json or call.service in ("kms", "cloudtrail"):
        response = json_response(
            {"__type": error.code, "message": error.message}, rid, error.status
        )
        response.set_header("x-amzn-ErrorType", error.code)
        return response
    code, message = escape(error.code), escape(error.message)
    if call.service == "s3":
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>{rid}</RequestId></Error>"
        )
        return xml_response(xml, rid, error.status)
    kind = "Receiver" if error.status >= 500 else "Sender"
    xml = (
        f'<ErrorResponse xmlns="https://{call.service or "sts"}.amazonaws.com/doc/'
        f'2011-06-15/"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
    )
    return xml_response(xml, rid, error.status)


def call_app(app: WsgiApp, environ: Environ) -> Response:
    """Run a WSGI application and buffer its whole response."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = list(headers)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Response(captured["status"], captured["headers"], body)


def header_map(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """Headers as the WSGI list of pairs."""
    return list(headers.items())
