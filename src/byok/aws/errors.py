"""Every AWS failure is translated here, once, into :mod:`byok.errors` (``raise ... from``).

======================================  =====================================================
AWS answer (after botocore's retries)   byok error
======================================  =====================================================
KMS ``AccessDeniedException``           :class:`~byok.errors.KeyAccessDenied`
STS ``AccessDenied`` (client role)      :class:`~byok.errors.RoleAssumptionDenied`
STS ``AccessDenied`` (vendor role)      :class:`~byok.errors.ConfigurationError` (operator)
``DisabledException``                   :class:`~byok.errors.KeyDisabled`
``KMSInvalidStateException``            by DescribeKey state: ``PendingDeletion`` ->
                                        :class:`~byok.errors.KeyPendingDeletion`,
                                        ``Disabled`` -> :class:`~byok.errors.KeyDisabled`,
                                        other -> :class:`~byok.errors.KeyUnsuitable`
``NotFoundException``                   :class:`~byok.errors.KeyNotFound`
``InvalidKeyUsageException`` ...        :class:`~byok.errors.KeyUnsuitable`
``InvalidCiphertextException``,         :class:`~byok.errors.IntegrityError` (opaque)
``IncorrectKeyException``
``ThrottlingException`` ...             :class:`~byok.errors.KmsThrottled`
HTTP 5xx, connection errors, timeouts   :class:`~byok.errors.KmsUnavailable`
rejected vendor credentials             :class:`~byok.errors.ConfigurationError`
======================================  =====================================================

Messages name the tenant, the operation, the key or role ARN and the AWS request id; never
key material, secrets or the External ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from byok.errors import (
    ByokError,
    ConfigurationError,
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

__all__ = [
    "KMS_ERROR_CODES",
    "THROTTLING_CODES",
    "UNAVAILABLE_CODES",
    "AccessContext",
    "error_code",
    "map_kms_error",
    "map_sts_error",
]

THROTTLING_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "LimitExceededException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
UNAVAILABLE_CODES: Final = frozenset(
    {
        "KMSInternalException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ExpiredTokenException",
        "ExpiredToken",
        "BadGateway",
        "GatewayTimeout",
    }
)
# Credentials the vendor signed with were rejected outright (not a policy decision).
_REJECTED_CREDENTIAL_CODES: Final = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidSignatureException",
    }
)
# KMS error code -> byok class, for codes that need no further context.
KMS_ERROR_CODES: Final[dict[str, type[ByokError]]] = {
    "AccessDeniedException": KeyAccessDenied,
    "AccessDenied": KeyAccessDenied,
    "DisabledException": KeyDisabled,
    "NotFoundException": KeyNotFound,
    "InvalidKeyUsageException": KeyUnsuitable,
    "UnsupportedOperationException": KeyUnsuitable,
    "InvalidCiphertextException": IntegrityError,
    "IncorrectKeyException": IntegrityError,
    "KMSInvalidStateException": KeyPendingDeletion,
}
_PENDING_DELETION_STATES: Final = frozenset({"PendingDeletion", "PendingReplicaDeletion"})


@dataclass(frozen=True)
class AccessContext:
    """Who called KMS on which key, so an error can say exactly what to fix.

    Attributes:
        tenant: the tenant.
        key_arn: the CMK.
        mode: ``direct`` or ``assume-role``.
        principal: the ARN KMS saw (vendor role or customer client role), if known.
    """

    tenant: str | None
    key_arn: str
    mode: str = "direct"
    principal: str | None = None


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (None for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _request_id(exc: ClientError) -> str:
    rid = exc.response.get("ResponseMetadata", {}).get("RequestId")
    return f" (AWS request id {rid})" if rid else ""


def _transport_error(exc: BaseException, *, tenant: str | None, operation: str) -> ByokError:
    """Map a non-HTTP botocore failure (connection, timeout, credentials) after retries."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigurationError(
            "the vendor's AWS service identity has no usable credentials",
            tenant=tenant,
            operation=operation,
            fix="Configure the service identity (profile, environment or instance role).",
        )
    if isinstance(exc, ParamValidationError):
        # Never echo the parameters: botocore's message quotes values (possibly key bytes).
        return ConfigurationError(
            "byok built an invalid AWS request", tenant=tenant, operation=operation
        )
    return KmsUnavailable(
        f"AWS could not be reached ({type(exc).__name__}) after byok's bounded retries",
        tenant=tenant,
        operation=operation,
        fix="Retry later; check network access to the AWS endpoint and AWS service health.",
    )


def _common(exc: ClientError, code: str, *, tenant: str | None, operation: str) -> ByokError | None:
    """Throttling and server-side trouble, identical for KMS and STS."""
    rid = _request_id(exc)
    if code in THROTTLING_CODES:
        return KmsThrottled(
            f"AWS kept throttling {operation} ({code}) after byok's bounded retries{rid}",
            tenant=tenant,
            operation=operation,
            fix="Retry later; if it persists lower byok's KMS call rate (longer key cache TTL) "
            "or ask AWS for a higher KMS request quota.",
        )
    if code in UNAVAILABLE_CODES or _status(exc) >= 500:
        return KmsUnavailable(
            f"AWS failed {operation} ({code}, HTTP {_status(exc)}) after byok's retries{rid}",
            tenant=tenant,
            operation=operation,
            fix="Retry later; check AWS service health for the key's region.",
        )
    return None


def map_sts_error(
    exc: BaseException, *, tenant: str | None, role_arn: str, vendor_hop: bool
) -> ByokError:
    """Translate a failed ``sts:AssumeRole``.

    Args:
        exc: the botocore exception.
        tenant: the tenant (None for the vendor's shared hop).
        role_arn: the role byok tried to assume.
        vendor_hop: True when the role is the vendor's own document-storage-role.

    Returns:
        The byok error to raise (``raise mapped from exc``).
    """
    operation = "sts:AssumeRole"
    if not isinstance(exc, ClientError):
        return _transport_error(exc, tenant=tenant, operation=operation)
    code = error_code(exc) or "Unknown"
    common = _common(exc, code, tenant=tenant, operation=operation)
    if common is not None:
        return common
    rid = _request_id(exc)
    if vendor_hop or code in _REJECTED_CREDENTIAL_CODES:
        return ConfigurationError(
            f"the vendor's service identity could not assume {role_arn} ({code}){rid}",
            tenant=tenant,
            operation=operation,
            fix="Operator: let the service identity sts:AssumeRole the vendor role, and the "
            "vendor role trust the service identity (this is not the customer's set-up).",
        )
    return RoleAssumptionDenied(
        f"the customer's client role {role_arn} refused sts:AssumeRole ({code}): its trust "
        f"policy does not allow the vendor's document-storage-role with this tenant's "
        f"External ID, or the role does not exist (if every Option B tenant fails like "
        f"this, the vendor role's own sts:AssumeRole permission is at fault){rid}",
        tenant=tenant,
        operation=operation,
        fix="The customer must keep the client role and make its trust policy allow the "
        "vendor's document-storage-role with Condition StringEquals sts:ExternalId set to the "
        "External ID shown by `byok tenant show` (`byok customer policy` prints the JSON).",
    )


def map_kms_error(
    exc: BaseException, *, context: AccessContext, operation: str, key_state: str | None = None
) -> ByokError:
    """Translate a failed KMS call.

    Args:
        exc: the botocore exception (a ``ByokError`` passes through unchanged).
        context: tenant, key, mode and principal, for the message.
        operation: e.g. ``kms:Decrypt``.
        key_state: the DescribeKey ``KeyState`` when the caller could read it (resolves
            ``KMSInvalidStateException``).

    Returns:
        The byok error to raise (``raise mapped from exc``).
    """
    tenant = context.tenant
    if isinstance(exc, ByokError):
        return exc
    if not isinstance(exc, ClientError):
        return _transport_error(exc, tenant=tenant, operation=operation)
    code = error_code(exc) or "Unknown"
    common = _common(exc, code, tenant=tenant, operation=operation)
    if common is not None:
        return common
    if code in _REJECTED_CREDENTIAL_CODES:
        return _rejected_credentials(exc, code, context, operation)
    if code == "InvalidArnException":
        return InvalidInput(
            "key_arn",
            f"KMS rejected the key ARN ({code})",
            tenant=tenant,
            operation=operation,
            fix="Give the key ARN exactly as the KMS console shows it.",
        )
    cls = KMS_ERROR_CODES.get(code)
    if cls is KeyPendingDeletion:
        cls = _class_for_state(key_state, str(exc))
    if cls is None:
        return ByokError(
            f"KMS refused {operation} with {code} (HTTP {_status(exc)}){_request_id(exc)}",
            tenant=tenant,
            operation=operation,
        )
    return _build(cls, exc, code, context, operation, key_state)


def _class_for_state(key_state: str | None, message: str) -> type[ByokError]:
    if key_state in _PENDING_DELETION_STATES:
        return KeyPendingDeletion
    if key_state == "Disabled":
        return KeyDisabled
    if key_state is not None and key_state != "Enabled":
        return KeyUnsuitable
    if key_state is None and "disabled" in message.lower():
        return KeyDisabled
    return KeyPendingDeletion


def _rejected_credentials(
    exc: ClientError, code: str, context: AccessContext, operation: str
) -> ByokError:
    rid = _request_id(exc)
    if context.mode == "assume-role":
        return RoleAssumptionDenied(
            f"AWS rejected the session of client role {context.principal} ({code}); the role "
            f"may have been deleted{rid}",
            tenant=context.tenant,
            operation=operation,
        )
    return ConfigurationError(
        f"AWS rejected the vendor's credentials ({code}){rid}",
        tenant=context.tenant,
        operation=operation,
        fix="Operator: check the service identity's access keys or role.",
    )


def _build(
    cls: type[ByokError],
    exc: ClientError,
    code: str,
    context: AccessContext,
    operation: str,
    key_state: str | None,
) -> ByokError:
    rid = _request_id(exc)
    tenant, key = context.tenant, context.key_arn
    if cls is IntegrityError:
        return IntegrityError(tenant=tenant, operation=operation)
    if cls is KeyAccessDenied:
        return KeyAccessDenied(
            f"KMS denied {operation} on {key} to {context.principal or 'the vendor'} ({code}){rid}",
            tenant=tenant,
            operation=operation,
            fix=_access_fix(context),
        )
    if cls is KeyNotFound:
        region = key.split(":")[3] if key.count(":") >= 5 else "?"
        return KeyNotFound(
            f"KMS found no key {key} in region {region} ({code}){rid}",
            tenant=tenant,
            operation=operation,
        )
    state = f", key state {key_state}" if key_state else ""
    return cls(
        f"KMS refused {operation} on {key} ({code}{state}){rid}", tenant=tenant, operation=operation
    )


def _access_fix(context: AccessContext) -> str:
    actions = "kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, kms:GenerateDataKey*, kms:DescribeKey"
    who = context.principal or "the vendor's role"
    if context.mode == "assume-role":
        return (
            f"The customer must allow the client role {who} {actions} on this key, both in "
            f"the key policy and in the role's permissions policy (`byok customer policy`)."
        )
    return (
        f"The customer must add the vendor statement allowing {who} {actions} to the key "
        f"policy (`byok customer policy` prints it)."
    )
