"""Helpers of the local AWS tests (a unique module name: conftest names collide)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def code_of(error: ClientError | Any) -> str:
    """The AWS error code of a ClientError (or of ``pytest.raises``' ExceptionInfo)."""
    value = getattr(error, "value", error)
    return str(value.response["Error"]["Code"])


def status_of(error: ClientError | Any) -> int:
    """The HTTP status of a ClientError (or of ``pytest.raises``' ExceptionInfo)."""
    value = getattr(error, "value", error)
    return int(value.response["ResponseMetadata"]["HTTPStatusCode"])
