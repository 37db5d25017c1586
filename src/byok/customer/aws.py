"""The customer toolkit's one seam to AWS: clients with the customer's own credentials.

Every call the toolkit makes goes through :meth:`CustomerAws.call`, which makes the client
through :class:`byok.aws.clients.ClientFactory` (endpoint, retries, timeouts, per-operation
call counts) and translates every botocore failure into :mod:`byok.errors`, with a fix worded
for the customer's security admin (who runs these commands), never for the vendor::

    aws = CustomerAws.connect(profile="security-admin")           # real AWS
    aws = CustomerAws.connect(endpoint_url="http://127.0.0.1:4566")  # the local AWS
    metadata = aws.call("kms", "DescribeKey", region="us-east-1", KeyId=key_arn)

=======================================  ============================================
AWS answer                               byok error (fix addressed to the customer)
=======================================  ============================================
no credentials / rejected credentials    :class:`~byok.errors.ConfigurationError`
KMS ``AccessDenied*``                    :class:`~byok.errors.KeyAccessDenied`
other ``AccessDenied*``                  :class:`~byok.errors.CustomerAccessError`
KMS ``NotFoundException``                :class:`~byok.errors.KeyNotFound`
``DisabledException``                    :class:`~byok.errors.KeyDisabled`
``KMSInvalidStateException``             :class:`~byok.errors.KeyUnsuitable`
``MalformedPolicyDocument*``             :class:`~byok.errors.InvalidInput` (``policy``)
throttling / 5xx / unreachable           :class:`~byok.errors.KmsThrottled` / ``KmsUnavailable``
anything else                            :class:`~byok.errors.ByokError`
=======================================  ============================================

A code listed in ``missing=`` is not an error: :meth:`CustomerAws.call` returns None, so a
caller can ask "does this role exist" without a try block.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from byok.aws.clients import AwsSettings, ClientFactory, StaticCredentials
from byok.aws.errors import THROTTLING_CODES, UNAVAILABLE_CODES, error_code
from byok.errors import (
    ByokError,
    ConfigurationError,
    CustomerAccessError,
    InvalidInput,
    KeyAccessDenied,
    KeyDisabled,
    KeyNotFound,
    KeyUnsuitable,
    KmsThrottled,
    KmsUnavailable,
)

__all__ = ["CustomerAws", "customer_error"]

_GLOBAL_REGION = "us-east-1"  # IAM and STS calls of the customer go to the global endpoints
_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
_REJECTED = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
_CREDENTIALS_FIX = (
    "Run with credentials of the AWS account that owns (or will own) the key: --profile NAME, "
    "or AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment "
    "(for the local AWS also --endpoint-url)."
)


class CustomerAws:
    """AWS clients acting as the customer, and the error translation for them.

    Args:
        factory: the client factory (its settings name the endpoint and the identity).
        region: the default region for KMS and CloudTrail calls.
        tenant: named in errors, when known.
    """

    def __init__(
        self, factory: ClientFactory, *, region: str = _GLOBAL_REGION, tenant: str | None = None
    ) -> None:
        self.factory = factory
        self.region = region
        self.tenant = tenant
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None

    @classmethod
    def connect(
        cls,
        *,
        region: str = _GLOBAL_REGION,
        profile: str | None = None,
        endpoint_url: str | None = None,
        credentials: StaticCredentials | None = None,
        tenant: str | None = None,
    ) -> CustomerAws:
        """Connect with a named profile, explicit keys, or botocore's default chain.

        Returns:
            A :class:`CustomerAws` (no call is made yet).

        Raises:
            ConfigurationError: if ``profile`` names no profile.
        """
        settings = AwsSettings(
            endpoint_url=endpoint_url, profile=profile, base_credentials=credentials
        )
        try:
            factory = ClientFactory(settings)
        except ProfileNotFound as exc:
            raise ConfigurationError(
                f"no AWS profile named {profile!r}", fix=_CREDENTIALS_FIX
            ) from exc
        return cls(factory, region=region, tenant=tenant)

    def client(self, service: str, region: str | None = None) -> Any:
        """The cached client of ``service`` (IAM and STS: global; others: ``region``).

        Returns:
            A botocore client made by the factory.
        """
        if service in ("iam", "sts"):
            region = _GLOBAL_REGION
        where = (service, region or self.region)
        with self._lock:
            if where not in self._clients:
                self._clients[where] = self.factory.client(service, where[1])
            return self._clients[where]

    def call(
        self,
        service: str,
        operation: str,
        *,
        region: str | None = None,
        missing: Collection[str] = (),
        resource: str | None = None,
        **params: Any,
    ) -> Any:
        """Call ``service:operation`` with ``params`` (boto3 parameter names).

        Args:
            service: ``kms``, ``iam``, ``sts``, ``cloudtrail``.
            operation: the API name, e.g. ``DescribeKey``.
            region: for regional services; None means :attr:`region`.
            missing: error codes that mean "absent": the call returns None instead.
            resource: named in error messages (default: the KeyId/RoleName parameter).

        Returns:
            The response dict, or None for an error code in ``missing``.

        Raises:
            ByokError: the translated failure (see the module docstring).
        """
        method = getattr(self.client(service, region), _snake(operation))
        try:
            return method(**params)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) in missing:
                return None
            what = resource or params.get("KeyId") or params.get("RoleName") or "-"
            raise customer_error(
                exc, operation=f"{service}:{operation}", resource=str(what), tenant=self.tenant
            ) from exc

    def account_id(self) -> str:
        """The account the credentials belong to (``sts:GetCallerIdentity``, cached).

        Raises:
            ConfigurationError: if there are no usable credentials.
        """
        if self._account is None:
            self._account = str(self.call("sts", "GetCallerIdentity")["Account"])
        return self._account

    def counts(self) -> dict[str, int]:
        """API calls made so far, per ``service:Operation`` (the factory's counter)."""
        return self.factory.counts()


def customer_error(
    exc: BaseException, *, operation: str, resource: str, tenant: str | None = None
) -> ByokError:
    """Translate a botocore failure of a customer-side call (table: module docstring).

    Returns:
        The byok error to raise (``raise customer_error(...) from exc``).
    """
    if isinstance(exc, ByokError):
        return exc
    where = {"tenant": tenant, "operation": operation}
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return ConfigurationError(
            "no usable AWS credentials for your account", **where, fix=_CREDENTIALS_FIX
        )
    if not isinstance(exc, ClientError):
        return KmsUnavailable(
            f"AWS could not be reached ({type(exc).__name__})",
            **where,
            fix="Check network access to AWS (or --endpoint-url) and retry.",
        )
    code = error_code(exc) or "Unknown"
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    rid = exc.response.get("ResponseMetadata", {}).get("RequestId")
    said = f"AWS refused {operation} on {resource} ({code}{f', request id {rid}' if rid else ''})"
    if code in THROTTLING_CODES:
        return KmsThrottled(said, **where, fix="Wait a minute and run the command again.")
    if code in UNAVAILABLE_CODES or status >= 500:
        return KmsUnavailable(said, **where, fix="Retry later; check AWS service health.")
    if code in _REJECTED:
        return ConfigurationError(
            said + ": your credentials were rejected", **where, fix=_CREDENTIALS_FIX
        )
    if code in _DENIED:
        cls = KeyAccessDenied if operation.startswith("kms:") else CustomerAccessError
        return cls(said, **where, fix=_denied_fix(operation, resource))
    return _specific(code, said, where, exc)


def _specific(code: str, said: str, where: dict[str, str | None], exc: ClientError) -> ByokError:
    message = str(exc.response.get("Error", {}).get("Message") or "")
    if code == "NotFoundException":
        return KeyNotFound(said, **where, fix="Check the key ARN: account, region and key id.")
    if code == "DisabledException":
        return KeyDisabled(said, **where, fix="Enable the key (kms:EnableKey) and run again.")
    if code == "KMSInvalidStateException":
        return KeyUnsuitable(
            f"{said}: {message}", **where, fix="Use an enabled key that is not pending deletion."
        )
    if code.startswith("MalformedPolicyDocument"):
        return InvalidInput(
            "policy",
            f"{said}: {message}",
            **where,
            fix="Check the policy names principals that exist and keeps your "
            "permission to manage the key (`byok customer policy`).",
        )
    return ByokError(f"{said}: {message}", **where)


def _denied_fix(operation: str, resource: str) -> str:
    if operation.startswith("kms:"):
        return (
            f"Run as a principal allowed {operation} on {resource}: a key administrator, "
            f"or an IAM identity of the key's account whose IAM policy allows it while the "
            f"key policy keeps the 'Enable IAM User Permissions' statement."
        )
    return (
        f"Run as a principal whose IAM policy allows {operation} on {resource} "
        f"(e.g. your account's administrator role)."
    )


def _snake(operation: str) -> str:
    out = [operation[0].lower()]
    for char in operation[1:]:
        out.append(f"_{char.lower()}" if char.isupper() else char)
    return "".join(out)
