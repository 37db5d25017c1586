"""The fidelity layer: a WSGI middleware in front of moto's server application.

It authenticates every signed request by the accounts convention (unknown or expired keys are
refused in the service's own error format, as AWS does), hands KMS and STS to their fidelity
handlers, answers ``cloudtrail:LookupEvents`` from the event log, applies injected faults, and
passes everything else to moto as the caller's account. Admin endpoints under ``/_byok/``
(docs/local-aws.md#faults) set faults and reset state.
"""

from __future__ import annotations

import json
import socket
import struct
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from byok.localaws import cloudformation
from byok.localaws.accounts import Caller, Identities, install_moto_patches
from byok.localaws.events import EventBus, EventTarget
from byok.localaws.faults import FaultSet
from byok.localaws.iam_events import ROLE_OPERATIONS, serve_recorded
from byok.localaws.kms import KmsFidelity
from byok.localaws.kms_keys import KeyIndex
from byok.localaws.sts import StsFidelity
from byok.localaws.trail import EventLog
from byok.localaws.wire import (
    AwsError,
    Call,
    DropConnection,
    Response,
    StartResponse,
    WsgiApp,
    error_response,
    json_response,
    parse_call,
)

__all__ = ["ADMIN_PREFIX", "FidelityLayer"]

ADMIN_PREFIX = "/_byok/"
_INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105
_EXPIRED_TOKEN = "The security token included in the request is expired"  # noqa: S105


class FidelityLayer:
    """WSGI application: byok's fidelity layer wrapped around ``moto_app``.

    Attributes:
        trail: the CloudTrail-like event log.
        faults: the active fault rules.
    """

    def __init__(self, moto_app: WsgiApp, *, seed: int = 0) -> None:
        self._moto = moto_app
        self._identities = Identities()
        install_moto_patches(self._identities)
        cloudformation.install()
        self._index = KeyIndex()
        self.events = EventBus()
        self.trail = EventLog(listener=self.events.publish)
        self.faults = FaultSet(seed)
        self._kms = KmsFidelity(moto_app, self._index, self.trail, self.faults)
        self._sts = StsFidelity(moto_app, self.trail)

    def reset(self) -> None:
        """Wipe all state: moto's backends, the event log, faults and caches."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()
        self._identities.clear()
        self._index.clear()
        self.trail.clear()
        self.faults.clear()
        self.events.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(ADMIN_PREFIX):
            return self._admin(environ).send(start_response)
        try:
            call = parse_call(environ)
        except AwsError as exc:
            return json_response({"__type": exc.code, "message": exc.message}, "", exc.status).send(
                start_response
            )
        try:
            answer = self._serve(call)
        except DropConnection:
            return _drop(environ, start_response)
        except AwsError as exc:
            answer = error_response(call, exc)
        except Exception:  # a bug here or in moto: answer like AWS, keep the trace on stderr
            traceback.print_exc()
            answer = error_response(
                call,
                AwsError(
                    "InternalFailure",
                    "The local AWS failed to serve this request; see its stderr.",
                    500,
                ),
            )
        if answer is None:
            return self._moto(call.environ, start_response)
        return answer.send(start_response)

    def _serve(self, call: Call) -> Response | None:
        """Our answer, or None to stream moto's answer for the (rewritten) call."""
        if call.access_key_id is None:
            if call.is_json or call.operation:  # an unsigned AWS API call
                code = (
                    "MissingAuthenticationTokenException"
                    if call.is_json
                    else ("MissingAuthenticationToken")
                )
                raise AwsError(code, "Missing Authentication Token", 400 if call.is_json else 403)
            return None  # unsigned: moto's own endpoints, anonymous S3 reads
        caller = self._authenticate(call)
        if call.service == "kms":
            return self._kms.handle(call, caller)
        self.faults.inject(call.service, call.operation, caller.account, call.region)
        if call.service == "sts":
            return self._sts.handle(call, caller)
        if call.service == "cloudtrail" and call.operation == "LookupEvents":
            found = self.trail.lookup(caller.account, call.region, call.json_body())
            return json_response(found, call.request_id)
        if call.service == "iam" and call.operation in ROLE_OPERATIONS:
            return serve_recorded(self._moto, call, caller, self.trail)
        call.environ["HTTP_X_MOTO_ACCOUNT_ID"] = caller.account
        return None

    def _authenticate(self, call: Call) -> Caller:
        json_protocol = call.is_json or call.service in ("kms", "cloudtrail")
        caller = self._identities.resolve(call.access_key_id)
        if caller is None:
            if call.service == "s3":
                raise AwsError(
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                    403,
                )
            if json_protocol:
                raise AwsError("UnrecognizedClientException", _INVALID_TOKEN, 400)
            raise AwsError("InvalidClientTokenId", _INVALID_TOKEN, 403)
        if caller.expiration is not None and caller.expiration < datetime.now(UTC).replace(
            tzinfo=None
        ):
            raise AwsError(
                "ExpiredTokenException" if json_protocol else "ExpiredToken",
                _EXPIRED_TOKEN,
                400 if json_protocol else 403,
            )
        return caller

    def _admin(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET")
        what = environ.get("PATH_INFO", "")[len(ADMIN_PREFIX) :].strip("/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if what == "health":
            return json_response({"ok": True}, "")
        if what == "reset" and method == "POST":
            self.reset()
            return json_response({"reset": True}, "")
        if what == "event-targets":
            return self._event_targets(method, body)
        if what.startswith("event-targets/") and method == "DELETE":
            found = self.events.remove(what.removeprefix("event-targets/"))
            return json_response(self.events.describe(), "", 200 if found else 404)
        if what != "faults":
            return json_response({"error": f"no admin endpoint {method} /_byok/{what}"}, "", 404)
        if method == "DELETE":
            self.faults.clear()
            return json_response({"faults": []}, "")
        if method == "POST":
            try:
                spec = json.loads(body or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("the fault must be a JSON object")
                self.faults.add(spec)
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, "", 400)
        return json_response({"faults": self.faults.describe()}, "")

    def _event_targets(self, method: str, body: bytes) -> Response:
        """``/_byok/event-targets``: POST adds a target, DELETE removes all, GET lists targets
        and recent deliveries (docs/local-aws.md#key-events)."""
        if method == "DELETE":
            self.events.clear()
        elif method == "POST":
            try:
                spec = json.loads(body or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("the target must be a JSON object")
                self.events.add(EventTarget.from_json(spec))
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, "", 400)
        return json_response(self.events.describe(), "")


def _drop(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """Close the connection without a response (RST): the client sees a reset."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    # werkzeug now fails to write the status line to the closed socket and drops the request.
    start_response("500 Internal Server Error", [("Content-Length", "0")])
    return [b""]
