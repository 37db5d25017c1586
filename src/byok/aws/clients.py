"""The one AWS client factory: endpoint, region, retries, timeouts, user agent, call counts.

Every boto3/botocore client in byok comes from :class:`ClientFactory` (STYLE.md guideline 2).
It knows the endpoint (``None`` for real AWS, or the project's local AWS), applies botocore's
``adaptive`` retry mode with a bounded number of attempts and connect/read timeouts, names
byok and its version in the user agent, and counts every API call and every HTTP attempt per
operation (``kms:Decrypt`` ...) through botocore event hooks, so tests and benchmarks can
assert how many KMS calls a workload made.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials

from byok import __version__
from byok.core.arn import parse_role_arn
from byok.errors import InvalidInput

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sts import STSClient

__all__ = ["AwsSettings", "CallCounter", "ClientFactory", "StaticCredentials"]

USER_AGENT = f"byok/{__version__}"


@dataclass(frozen=True)
class StaticCredentials:
    """Long-term access keys of the vendor's service identity. Secret never in repr."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AwsSettings:
    """How byok reaches AWS.

    Attributes:
        endpoint_url: None for real AWS, else one endpoint for every service (local AWS).
        connect_timeout_s: TCP connect timeout per attempt.
        read_timeout_s: read timeout per attempt.
        max_attempts: total attempts per call, first one included (botocore retries).
        retry_mode: botocore retry mode (``adaptive``: client-side rate limiting on throttles).
        user_agent: appended to botocore's user agent.
        profile: named profile of the vendor's service identity (None: default chain).
        base_credentials: explicit service identity keys (wins over ``profile``).
        document_storage_role_arn: the vendor role that customers trust (optional hop).
        sts_region: region of the STS endpoint used for the vendor hops.
    """

    endpoint_url: str | None = None
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    max_attempts: int = 4
    retry_mode: Literal["adaptive", "standard", "legacy"] = "adaptive"
    user_agent: str = USER_AGENT
    profile: str | None = None
    base_credentials: StaticCredentials | None = None
    document_storage_role_arn: str | None = None
    sts_region: str = "us-east-1"

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 10:
            raise InvalidInput("max_attempts", "must be 1 to 10", fix="Use e.g. 4.")
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise InvalidInput("timeouts", "must be positive", fix="Use seconds, e.g. 3 and 10.")
        if self.document_storage_role_arn is not None:
            parse_role_arn(self.document_storage_role_arn, field="document_storage_role_arn")

    def botocore_config(self) -> Config:
        """The botocore ``Config`` every client gets."""
        return Config(
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            retries={"total_max_attempts": self.max_attempts, "mode": self.retry_mode},
            user_agent_extra=self.user_agent,
        )


class CallCounter:
    """Thread-safe per-operation counts of API calls and HTTP attempts (retries included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        """Register the counting hooks on one botocore client."""
        client.meta.events.register("before-call", self._on_call)
        client.meta.events.register("before-send", self._on_attempt)
        client.meta.events.register("after-call", self._on_result)
        client.meta.events.register("after-call-error", self._on_failure)

    def _on_result(self, event_name: str, http_response: Any = None, **_: Any) -> None:
        if http_response is not None and getattr(http_response, "status_code", 200) >= 300:
            self._bump(self._errors, event_name)

    def _on_failure(self, event_name: str, **_: Any) -> None:
        self._bump(self._errors, event_name)  # no answer at all (connection reset, timeout)

    def _on_call(self, event_name: str, **_: Any) -> None:
        self._bump(self._calls, event_name)

    def _on_attempt(self, event_name: str, **_: Any) -> None:
        self._bump(self._attempts, event_name)

    def _bump(self, counter: Counter[str], event_name: str) -> None:
        # event names are "<event>.<service-id>.<Operation>", e.g. before-call.kms.Decrypt
        parts = event_name.split(".")
        if len(parts) >= 3:
            with self._lock:
                counter[f"{parts[1]}:{parts[2]}"] += 1

    def counts(self) -> dict[str, int]:
        """API calls per operation, e.g. ``{"kms:Decrypt": 3}`` (one per call, not attempt)."""
        with self._lock:
            return dict(self._calls)

    def attempts(self) -> dict[str, int]:
        """HTTP attempts per operation (a retried call counts each attempt)."""
        with self._lock:
            return dict(self._attempts)

    def errors(self) -> dict[str, int]:
        """API calls per operation that ended in an error answer or no answer."""
        with self._lock:
            return dict(self._errors)

    def reset(self) -> None:
        """Set every count back to zero."""
        with self._lock:
            self._calls.clear()
            self._attempts.clear()
            self._errors.clear()


class _FixedProvider(CredentialProvider):
    """Hands one credentials object to a botocore session (the session never resolves others)."""

    METHOD = "byok"
    CANONICAL_NAME = "byok"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class ClientFactory:
    """Makes every AWS client byok uses. Thread-safe; share one per process.

    Args:
        settings: endpoint, retries, timeouts, identity.
        counter: call counter (a fresh one by default; read it with :meth:`counts`).

    Raises:
        botocore.exceptions.ProfileNotFound: ``settings.profile`` names no profile.
    """

    def __init__(self, settings: AwsSettings | None = None, counter: CallCounter | None = None):
        self.settings = settings or AwsSettings()
        self.counter = counter or CallCounter()
        self._lock = threading.Lock()
        self._base_session = botocore.session.Session(profile=self.settings.profile)
        if self.settings.profile is not None:
            # Reads local config only (no AWS call); raises botocore's ProfileNotFound now
            # rather than at the first request.
            self._base_session.get_scoped_config()
        base = self.settings.base_credentials
        if base is not None:
            self._base_session.set_credentials(base.access_key, base.secret_key, base.token)
        self._config = self.settings.botocore_config()

    @overload
    def client(
        self, service: Literal["kms"], region: str, credentials: Credentials | None = None
    ) -> KMSClient: ...
    @overload
    def client(
        self, service: Literal["sts"], region: str, credentials: Credentials | None = None
    ) -> STSClient: ...
    @overload
    def client(self, service: str, region: str, credentials: Credentials | None = None) -> Any: ...

    def client(self, service: str, region: str, credentials: Credentials | None = None) -> Any:
        """Make a client for ``service`` in ``region``.

        Args:
            service: ``kms``, ``sts``, ...
            region: the AWS region (for KMS: taken from the key ARN).
            credentials: botocore credentials to sign with (e.g.
                :class:`byok.aws.credentials.RefreshingCredentials`); None for the vendor's
                service identity.

        Returns:
            A botocore client with byok's endpoint, retries, timeouts and counting hooks.
        """
        with self._lock:  # botocore sessions are not thread-safe; clients are
            session = self._base_session if credentials is None else self._session_for(credentials)
            client = session.create_client(
                service,
                region_name=region,
                endpoint_url=self.settings.endpoint_url,
                config=self._config,
            )
        self.counter.attach(client)
        return client

    def _session_for(self, credentials: Credentials) -> botocore.session.Session:
        session = botocore.session.Session()
        # Share the parsed service models with the base session instead of re-reading them.
        session.register_component("data_loader", self._base_session.get_component("data_loader"))
        session.register_component(
            "credential_provider", CredentialResolver([_FixedProvider(credentials)])
        )
        return session

    def counts(self) -> dict[str, int]:
        """API calls per operation so far (see :meth:`CallCounter.counts`)."""
        return self.counter.counts()
