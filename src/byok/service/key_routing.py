"""Unwrap each tenant key with the CMK that wraps it, so reads work during a key migration.

The envelope unwraps a TK with the :class:`~byok.core.keywrap.KeyWrapper` it is handed, and
the vendor hands it the *active* configuration's wrapper. While a key migration runs, some
TK rows are still wrapped by the old CMK; :class:`TenantKeyRouter` is a ``KeyWrapper`` that
writes with the active configuration (new TKs go under the new CMK at once) but unwraps each
TK with the configuration whose CMK wraps that TK's row (``tenant_keys.key_arn``). Old
configurations stay stored (RETIRED) for exactly this.

Security notes:

* The router re-reads the TK row for every unwrap and uses *that row's* wrapped copy and
  CMK: a row re-wrapped between the envelope's read and this call is still unwrapped
  correctly (both copies wrap the same TK), and ``KeyId`` stays pinned per call
  (``byok.aws.kms``), so a ciphertext is never decrypted under a key the row does not name.
* Wrappers for old configurations come from a separate :class:`KeyAccessProvider` per
  (tenant, version): the vendor's own provider caches one configuration per tenant and
  would otherwise rebuild clients (and re-assume roles) at every switch. "No access" from an
  old key purges the tenant's cached TKs like any other refusal.
* Cache entries stay keyed by the active CMK's ARN (the router's ``key_arn``), and
  activation purges the tenant's cache, so the revocation bound is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from byok.aws.access import KeyAccessProvider
from byok.aws.kms import KeyDescription, KmsKeyWrapper
from byok.core.context import REASON_CONTEXT_KEY, TK_CONTEXT_KEY
from byok.core.keywrap import DataKey, KeyWrapper, UnwrappedKey
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import NotFound, StateError
from byok.store.tenant_keys import StoredTenantKey

if TYPE_CHECKING:
    from byok.service.vendor import Vendor

__all__ = ["KeyRouting", "TenantKeyRouter"]


class KeyRouting:
    """Finds the wrapper for any stored TK of any tenant of one vendor (thread-safe).

    Args:
        vendor: the vendor service whose tenants, keys and AWS access are used.
    """

    def __init__(self, vendor: Vendor) -> None:
        self._vendor = vendor
        self._lock = threading.Lock()
        self._providers: dict[tuple[str, int], KeyAccessProvider] = {}

    def reader(self, tenant: str, active: KmsKeyWrapper | None = None) -> TenantKeyRouter:
        """A :class:`TenantKeyRouter` for ``tenant`` (``active``: default its active wrapper).

        Raises:
            NotFound, StateError: as :meth:`Vendor.active_wrapper`.
        """
        return TenantKeyRouter(self, active or self._vendor.active_wrapper(tenant))

    def wrapper_for_key(self, key: StoredTenantKey) -> KmsKeyWrapper:
        """The wrapper of the configuration whose CMK wraps ``key``.

        Returns:
            The active configuration's wrapper when it names ``key.key_arn``, else a wrapper
            of the (retired) configuration that made or last re-wrapped the TK.

        Raises:
            StateError: no configuration of the tenant names the TK's CMK.
        """
        tenants = self._vendor.tenants
        active = tenants.active_config(key.tenant)
        if active is not None and active.config.key_arn == key.key_arn:
            return self._vendor.access.wrapper_for(active.config)
        return self.wrapper_for_config(self._config_of(key))

    def wrapper_for_config(self, config: TenantKeyConfig) -> KmsKeyWrapper:
        """A wrapper for a non-active configuration, cached per (tenant, version)."""
        slot = (config.tenant, config.version)
        with self._lock:
            provider = self._providers.get(slot)
            if provider is None:
                vendor = self._vendor
                provider = self._providers[slot] = KeyAccessProvider(
                    vendor.factory, on_access_lost=vendor.envelope.purge_tenant,
                    max_credential_age_s=vendor.settings.revocation_bound_s,
                )  # fmt: skip
        return provider.wrapper_for(config)

    def stored_key(self, tenant: str, tk_id: str | None) -> StoredTenantKey | None:
        """The stored row of the tenant's TK ``tk_id``, or None."""
        if not tk_id:
            return None
        try:
            return self._vendor.tenant_keys.get(tenant, tk_id)
        except NotFound:
            return None

    def stored_copy(self, tenant: str, tk_id: str, reason: str) -> StoredTenantKey | None:
        """The TK's copy for ``reason`` (its own wrapped bytes and CMK), or None."""
        try:
            return self._vendor.tenant_keys.copy(tenant, tk_id, reason)
        except NotFound:
            return None

    def forget(self, tenant: str) -> None:
        """Drop every cached old-configuration client of ``tenant`` (after a migration)."""
        with self._lock:
            doomed = [slot for slot in self._providers if slot[0] == tenant]
            providers = [self._providers.pop(slot) for slot in doomed]
        for provider in providers:
            provider.invalidate(tenant)

    def _config_of(self, key: StoredTenantKey) -> TenantKeyConfig:
        configs = self._vendor.tenants.configs(key.tenant)
        named = [c.config for c in reversed(configs) if c.config.key_arn == key.key_arn]
        exact = [c for c in named if c.version == key.key_config_version]
        if not (exact or named):
            raise StateError(
                f"no key configuration names the CMK that wraps tenant key {key.tk_id}",
                tenant=key.tenant, operation="tk:unwrap",
                fix="Submit and verify a configuration for that key, then migrate again.",
            )  # fmt: skip
        return (exact or named)[0]


class TenantKeyRouter:
    """A :class:`~byok.core.keywrap.KeyWrapper`: writes with the active CMK, unwraps each TK
    with the CMK its row names (see the module docstring).

    Args:
        routing: the vendor's :class:`KeyRouting`.
        active: the tenant's active wrapper.
    """

    def __init__(self, routing: KeyRouting, active: KmsKeyWrapper) -> None:
        self._routing = routing
        self._active = active

    @property
    def key_arn(self) -> str:
        """The active CMK's ARN (what the envelope files cached keys under)."""
        return self._active.key_arn

    @property
    def active(self) -> KmsKeyWrapper:
        """The active configuration's wrapper."""
        return self._active

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        """A new TK under the active CMK (kms:GenerateDataKey). Raises as the active wrapper."""
        return self._active.generate_data_key(context)

    def unwrap(self, wrapped: bytes, context: Mapping[str, str]) -> UnwrappedKey:
        """Unwrap the TK named by ``context`` with the CMK its stored row names (kms:Decrypt).

        A context naming no stored TK (e.g. a verification probe) goes to the active CMK.

        Returns:
            The plaintext key (memory only).

        Raises:
            IntegrityError, CustomerAccessError, TransientKmsError: as ``KmsKeyWrapper.unwrap``.
            StateError: no configuration names the CMK of the TK's row.
        """
        row = self._routing.stored_key(self._active.tenant, context.get(TK_CONTEXT_KEY))
        if row is None:
            return self._active.unwrap(wrapped, context)
        reason = context.get(REASON_CONTEXT_KEY)
        if reason is not None and reason != row.context.get(REASON_CONTEXT_KEY):
            # A per-reason copy (docs/SECURITY.md#access-reasons): its own row names its CMK.
            row = self._routing.stored_copy(row.tenant, row.tk_id, reason) or replace(
                row, wrapped=wrapped, key_arn=self._active.key_arn
            )
        if row.key_arn == self._active.key_arn:
            return self._active.unwrap(row.wrapped, context)
        return self._routing.wrapper_for_key(row).unwrap(row.wrapped, context)

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        """Wrap with the active CMK (kms:Encrypt). Raises as the active wrapper."""
        return self._active.encrypt(plaintext, context)

    def rewrap(
        self, wrapped: bytes, context: Mapping[str, str], destination: KeyWrapper
    ) -> DataKey:
        """Re-wrap with the active CMK as source (see ``KmsKeyWrapper.rewrap``)."""
        if isinstance(destination, TenantKeyRouter):
            destination = destination.active
        return self._active.rewrap(wrapped, context, destination)

    def describe_key(self) -> KeyDescription:
        """DescribeKey of the active CMK."""
        return self._active.describe_key()

    def __repr__(self) -> str:
        return f"TenantKeyRouter(tenant={self._active.tenant!r}, key_arn={self.key_arn!r})"
