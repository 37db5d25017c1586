"""Errors as RFC 9457 problem bodies, from the one table in :mod:`byok.errors`.

Every error a client sees is ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``, plus byok's ``error``, ``code`` (stable, machine-readable:
docs/OPERATIONS.md#error-codes), ``tenant``, ``operation``, ``fix`` (and ``field`` for
invalid input). Statuses come only from :func:`byok.errors.mapping_for`:
a customer-side key problem is 503 with the fix the tenant can act on, never 500. A server
bug is a bare 500 that says nothing about its cause (the log has it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from byok.errors import ByokError, CustomerAccessError, TransientKmsError, mapping_for

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "RETRY_AFTER_S",
    "BodyTooLarge",
    "install_problem_handlers",
    "problem_response",
    "responses_for",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Seconds a client should wait before retrying a 503 (KMS trouble or a customer-side fix).
RETRY_AFTER_S = 5
_log = logging.getLogger(__name__)

_HTTP_TITLES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "request too large",
    422: "invalid input",
    500: "internal error",
    503: "unavailable",
}


class BodyTooLarge(Exception):
    """The request body passed the size limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


def problem_response(
    status: int,
    *,
    error: str,
    detail: str,
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Return a problem+json response.

    Returns:
        A :class:`JSONResponse` whose body validates against :class:`byok.api.models.Problem`.
    """
    body: dict[str, Any] = {
        "type": f"urn:byok:error:{error}",
        "title": title or _HTTP_TITLES.get(status, "error"),
        "status": status,
        "detail": detail,
        "error": error,
        "tenant": None,
        "operation": None,
        "fix": None,
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def byok_problem(error: ByokError) -> JSONResponse:
    """The problem response for a byok error, status and title from the error table.

    Returns:
        The response (with ``Retry-After`` on 503).
    """
    mapping = mapping_for(error)
    fields = error.to_dict()
    extra = {key: fields.get(key) for key in ("code", "tenant", "operation", "fix")}
    if "field" in fields:
        extra["field"] = fields["field"]
    # UseRefused: what the customer's key policy refuses (refused_scope, refused_period ...).
    extra |= {key: value for key, value in fields.items() if key.startswith("refused_")}
    headers = {"Retry-After": str(RETRY_AFTER_S)} if mapping.http_status == 503 else None
    return problem_response(
        mapping.http_status, error=type(error).__name__, detail=error.message,
        title=mapping.title, extra=extra, headers=headers,
    )  # fmt: skip


KmsErrorHook = Callable[[ByokError], None]


def install_problem_handlers(app: FastAPI, on_key_error: KmsErrorHook | None = None) -> None:
    """Register the exception handlers: byok errors, validation, HTTP errors, 413, bugs.

    Args:
        app: the application.
        on_key_error: called with every customer-access or transient KMS error (metrics).
    """

    async def on_byok(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ByokError)
        if on_key_error is not None and isinstance(exc, CustomerAccessError | TransientKmsError):
            on_key_error(exc)
        return byok_problem(exc)

    app.add_exception_handler(ByokError, on_byok)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(BodyTooLarge, _on_too_large)
    app.add_exception_handler(Exception, _on_bug)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    """A malformed request: 422 ``InvalidInput`` naming the first bad field."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join(location[1:] if location[:1] in (["query"], ["path"]) else location)
    message = str(first.get("msg", "invalid request"))
    return problem_response(
        422, error="InvalidInput", detail=f"{field}: {message}" if field else message,
        title="invalid input",
        extra={"field": field or None, "fix": "Correct the field named and try again."},
    )  # fmt: skip


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    """401, 403, 404 (no route), 405 ... as problem bodies."""
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(
        exc.status_code, error="HTTPError", detail=str(exc.detail), headers=exc.headers
    )


async def _on_too_large(_: Request, exc: Exception) -> JSONResponse:
    """The streamed body passed the limit."""
    assert isinstance(exc, BodyTooLarge)
    return problem_response(
        413, error="BodyTooLarge", detail=str(exc),
        extra={"fix": f"Send at most {exc.limit} bytes in one request."},
    )  # fmt: skip


async def _on_bug(_: Request, exc: Exception) -> JSONResponse:
    """Anything else is a bug: logged here, a bare 500 for the caller."""
    _log.error("unhandled error in the API", exc_info=exc)
    return problem_response(500, error="InternalError", detail="internal error")


def responses_for(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem bodies for ``statuses``.

    Returns:
        A mapping for a route's ``responses=`` argument.
    """
    described = {
        400: "Configuration error",
        401: "Missing, malformed, unknown or revoked bearer token",
        403: "The token's role may not do this",
        404: "No such tenant or document for this token (never says whether it exists "
        "for another tenant)",
        409: "Conflict or a lifecycle state that does not allow this",
        413: "Request body over the size limit",
        422: "Invalid input (``field`` names it) or a document failed its integrity check",
        500: "Storage failure or server error",
        503: "The tenant's key is unavailable (customer-side: ``fix`` says what to do) or KMS "
        "trouble; retry after ``Retry-After`` seconds",
    }
    return {
        status: {"description": described[status], "content": {PROBLEM_MEDIA_TYPE: _PROBLEM_REF}}
        for status in statuses
    }


_PROBLEM_REF = {"schema": {"$ref": "#/components/schemas/Problem"}}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


def problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the generated OpenAPI document say what the API really answers on errors.

    FastAPI documents request-validation failures as ``application/json``
    ``HTTPValidationError``; this API answers every error with a problem body. Each such
    response is rewritten to ``application/problem+json`` :class:`~byok.api.models.Problem`,
    and the unused FastAPI schemas are dropped.

    Returns:
        ``schema``, changed in place.
    """
    from byok.api.models import Problem

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                refs = {c.get("schema", {}).get("$ref") for c in content.values()}
                if _FASTAPI_VALIDATION in refs:
                    response["content"] = {PROBLEM_MEDIA_TYPE: _PROBLEM_REF}
                    response["description"] = "Invalid input (``field`` names it)"
    text = repr(schema["paths"])
    for name in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{name}" not in text:
            components.pop(name, None)
    return schema
