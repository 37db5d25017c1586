"""The byok exception ladder: one root, subclasses by who must act.

::

    ByokError                          root; carries tenant, operation, fix
    ├── ConfigurationError             the operator or caller gave bad input / settings
    │   └── InvalidInput               one named field is malformed (ARN, External ID, policy...)
    ├── CustomerAccessError            the customer's AWS set-up refuses the vendor
    │   ├── KeyAccessDenied            key policy / IAM policy does not allow the call
    │   ├── RoleAssumptionDenied       trust policy / External ID refuses sts:AssumeRole
    │   ├── KeyNotFound                no such key (or account/region) reachable
    │   ├── KeyDisabled                the customer disabled the key
    │   ├── KeyPendingDeletion         the customer scheduled the key for deletion
    │   └── KeyUnsuitable              wrong key spec, usage, region or owner
    ├── TransientKmsError              AWS-side trouble; retrying later may succeed
    │   ├── KmsThrottled
    │   └── KmsUnavailable
    ├── IntegrityError                 one opaque class for every integrity failure
    ├── StorageError                   metadata or blob storage failed
    │   ├── NotFound                   no such tenant / document (never says whose)
    │   └── Conflict                   a concurrent or stale write lost
    ├── StateError                     a lifecycle transition that is not allowed
    └── ApprovalRequired               a second principal must approve (re-rooting a tenant)

Every error names the tenant and operation when known and says, in words, what the
person who must act should do (``fix``). No error ever carries key material: messages
are built only from identifiers the caller already had.

:data:`ERROR_TABLE` maps each class to its HTTP status and CLI exit code; the API and
CLI use only this table (STYLE.md guideline 3).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ERROR_TABLE",
    "ApprovalRequired",
    "ByokError",
    "ConfigurationError",
    "Conflict",
    "CustomerAccessError",
    "ErrorMapping",
    "IntegrityError",
    "InvalidInput",
    "KeyAccessDenied",
    "KeyDisabled",
    "KeyNotFound",
    "KeyPendingDeletion",
    "KeyUnsuitable",
    "KmsThrottled",
    "KmsUnavailable",
    "NotFound",
    "RoleAssumptionDenied",
    "StateError",
    "StorageError",
    "TransientKmsError",
    "UseRefused",
    "mapping_for",
]


class ByokError(Exception):
    """Root of every error byok raises on purpose.

    Attributes:
        message: what went wrong, in one sentence.
        tenant: the tenant concerned, if any.
        operation: what byok was doing (``kms:Decrypt``, ``put_document`` ...).
        fix: what the person who must act should do.
    """

    default_fix = "See the byok documentation (docs/OPERATIONS.md) for this error."

    def __init__(
        self,
        message: str,
        *,
        tenant: str | None = None,
        operation: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.tenant = tenant
        self.operation = operation
        self.fix = fix if fix is not None else self.default_fix
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.message]
        where = []
        if self.tenant is not None:
            where.append(f"tenant {self.tenant!r}")
        if self.operation is not None:
            where.append(f"operation {self.operation}")
        if where:
            parts.append(f"({', '.join(where)})")
        parts.append(f"Fix: {self.fix}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-safe description (used for API problem bodies and ``--json`` CLI output)."""
        return {
            "error": type(self).__name__,
            "code": mapping_for(self).code,
            "message": self.message,
            "tenant": self.tenant,
            "operation": self.operation,
            "fix": self.fix,
        }


class ConfigurationError(ByokError):
    """Settings or input supplied by the vendor operator or an API caller are wrong."""

    default_fix = "Correct the configuration value named in the message and try again."


class InvalidInput(ConfigurationError):
    """One named input field is malformed.

    Attributes:
        field: the name of the field, as the caller spelled it (``key_arn``, ``external_id``).
    """

    def __init__(
        self,
        field: str,
        message: str,
        *,
        fix: str | None = None,
        tenant: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.field = field
        super().__init__(f"{field}: {message}", tenant=tenant, operation=operation, fix=fix)

    def to_dict(self) -> dict[str, str | None]:
        body = super().to_dict()
        body["field"] = self.field
        return body


class CustomerAccessError(ByokError):
    """The customer's AWS configuration does not (or no longer) let the vendor use the key.

    Any error of this family means "no access": the tenant's cached keys are purged.
    """

    default_fix = (
        "The customer must restore the vendor's access to the key "
        "(key policy, IAM role trust policy, key state); run `byok customer audit`."
    )


class KeyAccessDenied(CustomerAccessError):
    """KMS refused the call: the key policy (or IAM policy) does not allow it."""

    default_fix = (
        "The customer must add the vendor statement to the key policy "
        "(`byok customer policy`) allowing kms:Encrypt, kms:Decrypt, kms:ReEncrypt*, "
        "kms:GenerateDataKey*, kms:DescribeKey."
    )


class RoleAssumptionDenied(CustomerAccessError):
    """sts:AssumeRole on the customer's client role was refused."""

    default_fix = (
        "The customer must make the client role's trust policy allow the vendor's "
        "document-storage-role with the tenant's External ID (StringEquals sts:ExternalId), "
        "and the role must exist."
    )


class KeyNotFound(CustomerAccessError):
    """The key (or its account or region) does not exist or is not visible to the vendor."""

    default_fix = (
        "Check the key ARN (account, region, key id) the customer provided; "
        "the key must exist and its policy must allow the vendor kms:DescribeKey."
    )


class KeyDisabled(CustomerAccessError):
    """The customer disabled the key."""

    default_fix = "The customer must enable the key again (kms:EnableKey) to restore access."


class KeyPendingDeletion(CustomerAccessError):
    """The customer scheduled the key for deletion."""

    default_fix = (
        "The customer must cancel the key deletion (kms:CancelKeyDeletion) and enable the key "
        "before the waiting period ends; after that the data is unrecoverable."
    )


class KeyUnsuitable(CustomerAccessError):
    """The key exists but cannot be used: wrong spec, usage, region or owning account."""

    default_fix = (
        "Use a symmetric KMS key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) in an allowed region, "
        "owned by the account the customer named."
    )


class TransientKmsError(ByokError):
    """AWS is throttling or unavailable; retrying later may succeed. Data is not at risk."""

    default_fix = "Retry later; if it persists check AWS service health and byok's KMS call rate."


class KmsThrottled(TransientKmsError):
    """KMS kept answering ThrottlingException after byok's bounded retries."""


class KmsUnavailable(TransientKmsError):
    """KMS or STS could not be reached or kept failing with server errors."""


class IntegrityError(ByokError):
    """A document, header or wrapped key failed authentication.

    Deliberately opaque: the message never says which check failed, so an attacker learns
    nothing from it (like Fernet's ``InvalidToken``).
    """

    default_fix = (
        "The stored data was altered, truncated or belongs to another tenant or document; "
        "restore it from a trusted copy."
    )

    def __init__(
        self,
        message: str = "integrity check failed",
        *,
        tenant: str | None = None,
        operation: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, tenant=tenant, operation=operation, fix=fix)


class StorageError(ByokError):
    """The metadata database or blob store failed."""

    default_fix = "Check the metadata database and blob store are reachable and writable."


class NotFound(StorageError):
    """No such tenant or document (for this caller). Never reveals whether it exists elsewhere."""

    default_fix = "Check the tenant and document names."


class Conflict(StorageError):
    """A concurrent or stale write lost; the stored state is unchanged."""

    default_fix = "Read the current state and retry the write."


class UseRefused(ByokError):
    """The customer's key policy refuses this *use* of its key: a scope, a period or an access
    reason it denies (docs/SECURITY.md#customer-levers). The key itself still works for
    everything else, so the tenant stays ACTIVE; nothing is purged but this use.

    Attributes:
        refused: what the customer's policy denies, e.g. ``{"scope": "legal"}`` or
            ``{"reason": "vendor-support"}`` (dimension → value; at least one).
    """

    default_fix = (
        "Nothing to fix on the vendor's side: the customer's key policy denies this. The "
        "customer can lift it with `byok customer policy` without the --deny-* option."
    )

    def __init__(
        self,
        refused: dict[str, str],
        *,
        tenant: str | None = None,
        operation: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.refused = dict(refused)
        named = ", ".join(f"{k} {v!r}" for k, v in sorted(self.refused.items()))
        super().__init__(
            f"the customer's key policy refuses {named}", tenant=tenant, operation=operation,
            fix=fix,
        )  # fmt: skip

    def to_dict(self) -> dict[str, str | None]:
        body = super().to_dict()
        body.update({f"refused_{k}": v for k, v in self.refused.items()})
        return body


class StateError(ByokError):
    """A tenant lifecycle transition that is not allowed (e.g. activating an unverified tenant)."""

    default_fix = "Bring the tenant into the required state first (see `byok tenant show`)."


class ApprovalRequired(ByokError):
    """The action needs the approval of a second principal (a key in another AWS account)."""

    default_fix = "Ask the vendor's operator to approve the key configuration first."


@dataclass(frozen=True)
class ErrorMapping:
    """How one error class is reported to API callers and CLI users.

    ``code`` is the stable machine-readable name (API problem ``code``, CLI ``--json``
    ``code``; docs/OPERATIONS.md#error-codes): clients branch on it, never on messages.
    """

    http_status: int
    exit_code: int
    title: str
    code: str = "error"


# The one table mapping errors to HTTP status and CLI exit code (most specific first).
# Customer-side key problems are 503 (service unavailable *for this tenant*, with a reason
# the tenant can act on), never 500. Codes say whether it is a *deny* (the customer's
# set-up refuses: keys purged on every node) or an *outage* (throttled / unavailable: AWS
# trouble, the tenant stays ACTIVE and a cached key may serve within the bound or grace).
ERROR_TABLE: dict[type[ByokError], ErrorMapping] = {
    InvalidInput: ErrorMapping(422, 2, "invalid input", "invalid-input"),
    ConfigurationError: ErrorMapping(400, 2, "configuration error", "configuration"),
    RoleAssumptionDenied: ErrorMapping(503, 10, "customer role cannot be assumed", "role-denied"),
    KeyAccessDenied: ErrorMapping(503, 11, "access to customer key denied", "denied"),
    KeyNotFound: ErrorMapping(503, 12, "customer key not found", "not-found"),
    KeyDisabled: ErrorMapping(503, 13, "customer key disabled", "disabled"),
    KeyPendingDeletion: ErrorMapping(503, 14, "customer key pending deletion", "pending-deletion"),
    KeyUnsuitable: ErrorMapping(503, 15, "customer key unsuitable", "unsuitable"),
    CustomerAccessError: ErrorMapping(503, 16, "customer key unavailable", "key-unavailable"),
    UseRefused: ErrorMapping(403, 17, "use refused by the customer's key policy", "use-refused"),
    KmsThrottled: ErrorMapping(503, 20, "KMS throttled", "throttled"),
    KmsUnavailable: ErrorMapping(503, 21, "KMS unavailable", "unavailable"),
    TransientKmsError: ErrorMapping(503, 22, "KMS trouble", "kms-trouble"),
    IntegrityError: ErrorMapping(422, 30, "integrity check failed", "integrity"),
    NotFound: ErrorMapping(404, 40, "not found", "no-such-resource"),
    Conflict: ErrorMapping(409, 41, "conflict", "conflict"),
    StorageError: ErrorMapping(500, 42, "storage error", "storage"),
    StateError: ErrorMapping(409, 50, "invalid state", "invalid-state"),
    ApprovalRequired: ErrorMapping(403, 51, "approval required", "approval-required"),
    ByokError: ErrorMapping(500, 1, "error", "error"),
}


def mapping_for(error: ByokError) -> ErrorMapping:
    """Return the :class:`ErrorMapping` of the most specific class in the table for ``error``."""
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return ERROR_TABLE[ByokError]
