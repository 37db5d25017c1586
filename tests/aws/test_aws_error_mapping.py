"""The AWS error mapping table (pure: builds botocore exceptions, no network)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from byok.aws.errors import AccessContext, map_kms_error, map_sts_error
from byok.errors import (
    ByokError,
    ConfigurationError,
    CustomerAccessError,
    IntegrityError,
    InvalidInput,
    KeyAccessDenied,
    KeyDisabled,
    KeyNotFound,
    KeyPendingDeletion,
    KeyUnsuitable,
    KmsThrottled,
    KmsUnavailable,
    RoleAssumptionDenied,
)

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/byok-client-role"
VENDOR = "arn:aws:iam::444455556666:role/document-storage-role"
DIRECT = AccessContext("acme", KEY, "direct", VENDOR)
CHAINED = AccessContext("acme", KEY, "assume-role", ROLE)


def _client_error(code: str, status: int = 400, op: str = "Decrypt") -> ClientError:
    return _error(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "req-123"},
        },
        op,
    )


def _error(response: dict[str, Any], operation: str) -> ClientError:
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("AccessDeniedException", 400, KeyAccessDenied),
        ("DisabledException", 400, KeyDisabled),
        ("NotFoundException", 400, KeyNotFound),
        ("InvalidKeyUsageException", 400, KeyUnsuitable),
        ("UnsupportedOperationException", 400, KeyUnsuitable),
        ("InvalidCiphertextException", 400, IntegrityError),
        ("IncorrectKeyException", 400, IntegrityError),
        ("ThrottlingException", 400, KmsThrottled),
        ("LimitExceededException", 400, KmsThrottled),
        ("KMSInternalException", 500, KmsUnavailable),
        ("DependencyTimeoutException", 503, KmsUnavailable),
        ("SomethingNew", 502, KmsUnavailable),
        ("InvalidArnException", 400, InvalidInput),
        ("UnrecognizedClientException", 400, ConfigurationError),
        ("SomethingNew", 400, ByokError),
    ],
)
def test_kms_codes_map_to_typed_errors(code: str, status: int, expected: type) -> None:
    mapped = map_kms_error(_client_error(code, status), context=DIRECT, operation="kms:Decrypt")
    assert type(mapped) is expected
    assert mapped.tenant == "acme"
    assert mapped.operation == "kms:Decrypt"
    assert mapped.fix


@pytest.mark.parametrize(
    ("state", "message", "expected"),
    [
        ("PendingDeletion", "", KeyPendingDeletion),
        ("PendingReplicaDeletion", "", KeyPendingDeletion),
        ("Disabled", "", KeyDisabled),
        ("PendingImport", "", KeyUnsuitable),
        (None, "key is disabled", KeyDisabled),
        (None, "is pending deletion", KeyPendingDeletion),
    ],
)
def test_invalid_state_is_resolved_by_key_state(
    state: str | None, message: str, expected: type
) -> None:
    exc = _error(
        {
            "Error": {"Code": "KMSInvalidStateException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "Decrypt",
    )
    mapped = map_kms_error(exc, context=DIRECT, operation="kms:Decrypt", key_state=state)
    assert type(mapped) is expected


def test_access_denied_names_principal_key_request_id_and_fix_per_mode() -> None:
    direct = map_kms_error(
        _client_error("AccessDeniedException"), context=DIRECT, operation="kms:GenerateDataKey"
    )
    assert VENDOR in direct.message and KEY in direct.message and "req-123" in direct.message
    assert "key policy" in direct.fix and VENDOR in direct.fix
    chained = map_kms_error(
        _client_error("AccessDeniedException"), context=CHAINED, operation="kms:Decrypt"
    )
    assert ROLE in chained.fix and "role's permissions" in chained.fix


def test_not_found_names_region() -> None:
    mapped = map_kms_error(_client_error("NotFoundException"), context=DIRECT, operation="x")
    assert "us-east-1" in mapped.message


def test_rejected_credentials_in_option_b_are_a_role_problem() -> None:
    mapped = map_kms_error(
        _client_error("UnrecognizedClientException"), context=CHAINED, operation="kms:Decrypt"
    )
    assert isinstance(mapped, RoleAssumptionDenied)


def test_integrity_errors_are_opaque() -> None:
    mapped = map_kms_error(
        _client_error("InvalidCiphertextException"), context=DIRECT, operation="kms:Decrypt"
    )
    assert mapped.message == "integrity check failed"
    assert "InvalidCiphertext" not in str(mapped)


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ],
)
def test_transport_failures_are_unavailable(exc: Exception) -> None:
    mapped = map_kms_error(exc, context=DIRECT, operation="kms:Decrypt")
    assert isinstance(mapped, KmsUnavailable)
    assert "Retry later" in mapped.fix


def test_missing_vendor_credentials_is_operator_configuration() -> None:
    mapped = map_kms_error(NoCredentialsError(), context=DIRECT, operation="kms:Decrypt")
    assert type(mapped) is ConfigurationError


def test_byok_errors_pass_through_unchanged() -> None:
    original = RoleAssumptionDenied("no", tenant="acme")
    assert map_kms_error(original, context=DIRECT, operation="kms:Decrypt") is original


def test_sts_access_denied_on_client_role_says_trust_policy_and_external_id() -> None:
    mapped = map_sts_error(
        _client_error("AccessDenied", 403, "AssumeRole"),
        tenant="acme",
        role_arn=ROLE,
        vendor_hop=False,
    )
    assert isinstance(mapped, RoleAssumptionDenied)
    assert isinstance(mapped, CustomerAccessError)
    assert "trust policy" in mapped.message and "External ID" in mapped.message
    assert ROLE in mapped.message
    assert "sts:ExternalId" in mapped.fix
    assert mapped.operation == "sts:AssumeRole"


def test_sts_access_denied_on_vendor_role_is_the_operators_problem() -> None:
    mapped = map_sts_error(
        _client_error("AccessDenied", 403, "AssumeRole"),
        tenant=None,
        role_arn=VENDOR,
        vendor_hop=True,
    )
    assert type(mapped) is ConfigurationError
    assert not isinstance(mapped, CustomerAccessError)
    assert "Operator" in mapped.fix


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [("Throttling", 400, KmsThrottled), ("InternalFailure", 500, KmsUnavailable)],
)
def test_sts_transient(code: str, status: int, expected: type) -> None:
    mapped = map_sts_error(
        _client_error(code, status, "AssumeRole"), tenant="acme", role_arn=ROLE, vendor_hop=False
    )
    assert type(mapped) is expected
