"""Refreshable, deferred AWS credentials and chained assume-role (botocore design).

:class:`RefreshingCredentials` is what botocore's request signer sees. The signer calls
:meth:`~RefreshingCredentials.get_frozen_credentials` once per HTTP attempt and signs with that
snapshot only, so access key, secret and token always come from one refresh (never mixed).

Refresh rules (times before the snapshot's expiry; each window is also capped at a fraction
of the snapshot's lifetime, so short-lived snapshots still refresh before they expire):

* nothing is fetched until the first use (deferred);
* **advisory window** (default 15 min): one thread refreshes; the others keep using the old,
  still-valid snapshot without waiting. A failed advisory refresh keeps the old snapshot;
* **mandatory window** (default 10 min) or no snapshot yet: every caller waits for the one
  refresh in progress; a failed mandatory refresh raises to every caller;
* the clock is a parameter, so tests move time.

Chained assume-role (Option B): the vendor's service identity assumes ``document-storage-role``,
whose credentials assume the customer's client role with the tenant's External ID. Each hop is
a :class:`RefreshingCredentials` whose refresher calls STS through a client signed by the hop
before it. AWS caps a chained role session at one hour: byok asks for 3600 s and refreshes
15 minutes early. ``max_age_s`` shortens the lifetime further so that a customer who removes
the trust relationship locks the vendor out within the revocation bound, not an hour later.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError

from byok.aws.errors import map_sts_error
from byok.errors import ByokError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

__all__ = [
    "CHAINED_SESSION_SECONDS",
    "AssumeRoleRefresher",
    "Clock",
    "RefreshingCredentials",
    "TemporaryCredentials",
    "role_session_name",
    "utc_now",
]

Clock = Callable[[], datetime]
CHAINED_SESSION_SECONDS: Final = 3600  # AWS's hard limit for role chaining
DEFAULT_ADVISORY_S: Final = 15 * 60
DEFAULT_MANDATORY_S: Final = 10 * 60
_log = logging.getLogger(__name__)
_SESSION_NAME_BAD = re.compile(r"[^\w+=,.@-]", re.ASCII)
_SESSION_NAME_MAX: Final = 64


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class TemporaryCredentials:
    """One set of AWS credentials as returned by STS. Secret and token never appear in repr.

    Attributes:
        access_key: the access key id.
        secret_key: the secret access key.
        token: the session token, if any.
        expiration: when AWS stops accepting them (None: never, for static keys).
        fetched_at: when byok obtained them (windows are capped by the lifetime).
    """

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    expiration: datetime | None = None
    fetched_at: datetime | None = None

    def frozen(self, account_id: str | None = None) -> ReadOnlyCredentials:
        """The botocore snapshot the signer uses."""
        return ReadOnlyCredentials(self.access_key, self.secret_key, self.token, account_id)


Refresher = Callable[[], TemporaryCredentials]


class RefreshingCredentials(Credentials):
    """botocore-compatible credentials that refresh themselves (thread-safe, deferred).

    Plug into a botocore client through :meth:`byok.aws.clients.ClientFactory.client`.
    """

    def __init__(
        self,
        refresh: Refresher,
        *,
        method: str = "byok-assume-role",
        clock: Clock = utc_now,
        advisory_s: float = DEFAULT_ADVISORY_S,
        mandatory_s: float = DEFAULT_MANDATORY_S,
        account_id: str | None = None,
    ) -> None:
        # botocore's Credentials.__init__ would store plain attributes; we expose properties.
        self._refresh_fn = refresh
        self.method = method
        self._clock = clock
        self._advisory_s = advisory_s
        self._mandatory_s = mandatory_s
        self._account_id = account_id
        self._current: TemporaryCredentials | None = None
        self._lock = threading.Lock()
        self._refreshes = 0
        self._attempts = 0
        self._last_error: ByokError | None = None

    def __repr__(self) -> str:
        return f"RefreshingCredentials(method={self.method!r}, refreshes={self._refreshes})"

    @property
    def refresh_count(self) -> int:
        """How many successful refreshes happened (tests assert one per window)."""
        return self._refreshes

    @property
    def account_id(self) -> str | None:
        """The account the credentials act in, when known statically (never fetched)."""
        return self._account_id

    @property
    def access_key(self) -> str:  # type: ignore[override]
        """Access key id of a current snapshot (prefer :meth:`get_frozen_credentials`)."""
        return self._snapshot().access_key

    @property
    def secret_key(self) -> str:  # type: ignore[override]
        """Secret of a current snapshot (prefer :meth:`get_frozen_credentials`)."""
        return self._snapshot().secret_key

    @property
    def token(self) -> str | None:  # type: ignore[override]
        """Session token of a current snapshot (prefer :meth:`get_frozen_credentials`)."""
        return self._snapshot().token

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        """Return one consistent snapshot, refreshing first if a window requires it.

        Raises:
            ByokError: the mapped STS error when a mandatory refresh fails.
        """
        return self._snapshot().frozen(self._account_id)

    def invalidate(self) -> None:
        """Drop the snapshot: the next use refreshes (mandatory) before signing anything."""
        with self._lock:
            self._current = None

    def _snapshot(self) -> TemporaryCredentials:
        current = self._current
        if current is not None and not self._needs_refresh(current, mandatory=False):
            return current
        if self._lock.acquire(blocking=False):
            try:
                return self._refresh_locked(mandatory=False)
            finally:
                self._lock.release()
        seen = self._attempts
        current = self._current
        if current is not None and not self._needs_refresh(current, mandatory=True):
            return current  # someone else is refreshing; the old snapshot is still good
        with self._lock:
            if self._attempts != seen and self._last_error is not None:
                # The refresh we waited for failed: share its answer instead of asking STS
                # again once per waiting thread.
                raise self._last_error
            return self._refresh_locked(mandatory=True)

    def _refresh_locked(self, *, mandatory: bool) -> TemporaryCredentials:
        current = self._current
        if current is not None and not self._needs_refresh(current, mandatory=mandatory):
            return current  # refreshed by the thread we waited for
        must = current is None or self._needs_refresh(current, mandatory=True)
        try:
            fresh = self._refresh_fn()
        except ByokError as exc:
            self._attempts += 1  # counted on completion: waiters compare against it
            self._last_error = exc
            _log.warning(
                "credential refresh failed",
                extra={"method": self.method, "error": type(exc).__name__, "mandatory": must},
            )
            if must or current is None:
                raise
            return current  # advisory: the old snapshot is still valid
        self._attempts += 1
        self._last_error = None
        self._current = fresh
        self._refreshes += 1
        # Identifiers only: never the secret or token.
        _log.info(
            "credentials refreshed",
            extra={"method": self.method, "expiration": str(fresh.expiration), "mandatory": must},
        )
        return fresh

    def _needs_refresh(self, creds: TemporaryCredentials, *, mandatory: bool) -> bool:
        if creds.expiration is None:
            return False
        lifetime = (creds.expiration - (creds.fetched_at or creds.expiration)).total_seconds()
        if mandatory:
            window = self._mandatory_s if lifetime <= 0 else min(self._mandatory_s, lifetime / 4)
        else:
            window = self._advisory_s if lifetime <= 0 else min(self._advisory_s, lifetime / 2)
        return creds.expiration - self._clock() <= timedelta(seconds=window)


def role_session_name(tenant: str, suffix: str = "") -> str:
    r"""A RoleSessionName naming the tenant, valid for AWS (2-64 of ``[\w+=,.@-]``).

    Shown in the customer's CloudTrail as the assumed-role session. Invalid characters become
    ``-``; a name too long is cut and given a short hash so two tenants never share one.

    Args:
        tenant: the tenant id.
        suffix: appended (e.g. ``-check`` for verification probes), kept within 64 chars.

    Returns:
        ``byok-<tenant><suffix>``, sanitised and at most 64 characters.
    """
    tail = _SESSION_NAME_BAD.sub("-", suffix)[:20]
    name = "byok-" + _SESSION_NAME_BAD.sub("-", tenant)
    if len(name) + len(tail) <= _SESSION_NAME_MAX:
        return name + tail
    digest = hashlib.sha256(tenant.encode("utf-8")).hexdigest()[:10]
    return f"{name[: _SESSION_NAME_MAX - 11 - len(tail)]}-{digest}{tail}"


@dataclass(frozen=True)
class AssumeRoleRefresher:
    """A refresher that calls ``sts:AssumeRole`` through a client signed by the previous hop.

    Attributes:
        sts: returns the STS client (built lazily, so nothing is called before first use).
        role_arn: the role to assume.
        session_name: RoleSessionName (see :func:`role_session_name`).
        external_id: the tenant's External ID (Option B client role); not in repr.
        tenant: named in errors.
        vendor_hop: True for the vendor's own document-storage-role (errors say "operator").
        duration_s: requested DurationSeconds (3600, the chained-session maximum).
        max_age_s: cap on how long byok uses one session (the revocation bound), or None.
        clock: time source.
    """

    sts: Callable[[], STSClient]
    role_arn: str
    session_name: str
    external_id: str | None = field(default=None, repr=False)
    tenant: str | None = None
    vendor_hop: bool = False
    duration_s: int = CHAINED_SESSION_SECONDS
    max_age_s: float | None = None
    clock: Clock = utc_now

    def __call__(self) -> TemporaryCredentials:
        """Assume the role once.

        Returns:
            The new credentials, expiration capped by ``max_age_s``.

        Raises:
            RoleAssumptionDenied: the customer's trust policy or External ID refused it.
            ConfigurationError: the vendor's own role or identity is broken.
            KmsThrottled, KmsUnavailable: STS trouble after retries.
        """
        kwargs: dict[str, object] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name,
            "DurationSeconds": self.duration_s,
        }
        if self.external_id is not None:
            kwargs["ExternalId"] = self.external_id
        fetched_at = self.clock()
        try:
            answer = self.sts().assume_role(**kwargs)  # type: ignore[arg-type]
        except (ClientError, BotoCoreError) as exc:
            raise map_sts_error(
                exc, tenant=self.tenant, role_arn=self.role_arn, vendor_hop=self.vendor_hop
            ) from exc
        creds = answer["Credentials"]
        expiration = creds["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        if self.max_age_s is not None:
            expiration = min(expiration, fetched_at + timedelta(seconds=self.max_age_s))
        return TemporaryCredentials(
            access_key=creds["AccessKeyId"],
            secret_key=creds["SecretAccessKey"],
            token=creds["SessionToken"],
            expiration=expiration,
            fetched_at=fetched_at,
        )
