"""Option A and Option B: which principal calls KMS for a tenant, cached per configuration.

* **Option A** (``direct``): the vendor's service identity, or, when
  :attr:`~byok.aws.clients.AwsSettings.document_storage_role_arn` is set, that role (assumed
  once and shared by all tenants) calls KMS on the tenant's key ARN.
* **Option B** (``assume-role``): service identity -> ``document-storage-role`` (if set) ->
  the tenant's client role (``ExternalId``, ``RoleSessionName`` ``byok-<tenant>``) -> KMS.

Credentials and KMS clients are built lazily (no AWS call before first use) and cached per
tenant and configuration version; a new version replaces the old entry. Option A tenants share
one KMS client per region (same principal). When KMS or STS says
"no access", the entry is dropped (the next call assumes the role again, so the customer sees
a precise error) and ``on_access_lost(tenant)`` runs; wire it to
``TenantKeyCache.purge_tenant`` so cached plaintext tenant keys go at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from byok.aws.clients import ClientFactory
from byok.aws.credentials import (
    AssumeRoleRefresher,
    Clock,
    RefreshingCredentials,
    role_session_name,
    utc_now,
)
from byok.aws.kms import KmsKeyWrapper
from byok.core.arn import parse_role_arn
from byok.core.tenant_config import TenantKeyConfig

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sts import STSClient

__all__ = ["KeyAccessProvider"]

_VENDOR_SESSION_NAME = "byok-document-storage"


@dataclass(frozen=True)
class _Entry:
    config: TenantKeyConfig
    wrapper: KmsKeyWrapper
    credentials: RefreshingCredentials | None


class KeyAccessProvider:
    """Builds and caches each tenant's :class:`~byok.aws.kms.KmsKeyWrapper`.

    Args:
        factory: the AWS client factory.
        on_access_lost: called with a tenant id when its key became unreachable
            ("no access"); typically ``TenantKeyCache.purge_tenant``.
        clock: time source for credential refresh windows.
        max_credential_age_s: longest byok uses one customer role session (set it to the
            revocation bound so a removed trust relationship bites within it); None: 1 hour.
        allowed_regions: when given, configurations with a key elsewhere are refused.
    """

    def __init__(
        self,
        factory: ClientFactory,
        *,
        on_access_lost: Callable[[str], object] | None = None,
        clock: Clock = utc_now,
        max_credential_age_s: float | None = None,
        allowed_regions: Iterable[str] | None = None,
    ) -> None:
        self._factory = factory
        self._allowed_regions = None if allowed_regions is None else tuple(allowed_regions)
        self._on_access_lost = on_access_lost
        self._clock = clock
        self._max_age_s = max_credential_age_s
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._vendor_credentials: RefreshingCredentials | None = None
        self._chain_sts: STSClient | None = None
        self._direct_clients: dict[str, KMSClient] = {}
        role = factory.settings.document_storage_role_arn
        if role is not None:
            self._vendor_credentials = RefreshingCredentials(
                AssumeRoleRefresher(
                    sts=lambda: self._factory.client("sts", self._sts_region),
                    role_arn=role,
                    session_name=_VENDOR_SESSION_NAME,
                    vendor_hop=True,
                    clock=clock,
                ),
                clock=clock,
                account_id=parse_role_arn(role).account,
            )

    @property
    def _sts_region(self) -> str:
        return self._factory.settings.sts_region

    @property
    def vendor_credentials(self) -> RefreshingCredentials | None:
        """The shared document-storage-role credentials (None: the service identity signs)."""
        return self._vendor_credentials

    def wrapper_for(self, config: TenantKeyConfig) -> KmsKeyWrapper:
        """The tenant's KMS wrapper for this configuration (cached; no AWS call here).

        Returns:
            A :class:`KmsKeyWrapper` in the key's region, signed per the access mode.

        Raises:
            InvalidInput: the key is outside ``allowed_regions``.
        """
        if self._allowed_regions is not None:
            config.check_region(self._allowed_regions)
        with self._lock:
            entry = self._entries.get(config.tenant)
            if entry is None or entry.config != config:
                entry = self._build(config)
                self._entries[config.tenant] = entry
            return entry.wrapper

    def credentials_for(self, config: TenantKeyConfig) -> RefreshingCredentials | None:
        """The credentials the tenant's KMS calls are signed with (None: service identity)."""
        self.wrapper_for(config)
        with self._lock:
            return self._entries[config.tenant].credentials

    def invalidate(self, tenant: str) -> None:
        """Forget the tenant's cached credentials and client (next use starts afresh)."""
        with self._lock:
            entry = self._entries.pop(tenant, None)
        if entry is not None and entry.credentials is not None:
            entry.credentials.invalidate()

    def _access_lost(self, tenant: str) -> None:
        self.invalidate(tenant)
        if self._on_access_lost is not None:
            self._on_access_lost(tenant)

    def _build(self, config: TenantKeyConfig) -> _Entry:
        if config.mode == "direct":
            # One principal for every Option A tenant: share one client (and its connection
            # pool and adaptive rate limiter) per region.
            principal = self._factory.settings.document_storage_role_arn
            tenant_credentials = None
            client = self._direct_clients.get(config.region)
            if client is None:
                client = self._factory.client("kms", config.region, self._vendor_credentials)
                self._direct_clients[config.region] = client
        else:
            tenant_credentials = self._client_role_credentials(config)
            principal = config.client_role_arn
            client = self._factory.client("kms", config.region, tenant_credentials)
        failover_clients: dict[str, KMSClient] = {}

        def failover(region: str) -> KMSClient:  # the same principal in another region
            if region not in failover_clients:
                failover_clients[region] = self._factory.client(
                    "kms", region, tenant_credentials or self._vendor_credentials
                )
            return failover_clients[region]

        wrapper = KmsKeyWrapper(
            config,
            client,
            principal=principal,
            on_access_lost=self._access_lost,
            failover=failover,
            failover_regions=self._allowed_regions or (),
        )
        return _Entry(config, wrapper, tenant_credentials)

    def _client_role_credentials(self, config: TenantKeyConfig) -> RefreshingCredentials:
        role = config.client_role
        assert role is not None  # TenantKeyConfig guarantees it for assume-role
        refresher = AssumeRoleRefresher(
            sts=self._sts_for_chain,
            role_arn=role.arn,
            session_name=role_session_name(config.tenant),
            external_id=config.external_id,
            tenant=config.tenant,
            max_age_s=self._max_age_s,
            clock=self._clock,
        )
        return RefreshingCredentials(refresher, clock=self._clock, account_id=role.account)

    def _sts_for_chain(self) -> STSClient:
        """STS signed by the hop before the client role (document-storage-role if set)."""
        with self._lock:
            if self._chain_sts is None:
                self._chain_sts = self._factory.client(
                    "sts", self._sts_region, self._vendor_credentials
                )
            return self._chain_sts
