"""Adapter: the SQL tenant-key table as the envelope core's :class:`TenantKeyStore`.

The envelope core persists wrapped TKs through a small protocol that knows nothing of key
configuration versions; the SQL table records which configuration made each TK (so a key
migration knows what to re-wrap). This adapter supplies that version from the tenant's
active configuration at the moment a TK is added.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from byok.core.context import DEFAULT_SCOPE
from byok.core.tenant_keys import WrappedTenantKey
from byok.errors import NotFound
from byok.store.tenant_keys import SqlTenantKeyStore, StoredTenantKey

__all__ = ["EnvelopeKeyStore"]


class EnvelopeKeyStore:
    """:class:`~byok.core.tenant_keys.TenantKeyStore` over :class:`SqlTenantKeyStore`.

    Args:
        keys: the SQL tenant-key repository.
        config_version: returns the tenant's active key configuration version.
    """

    def __init__(self, keys: SqlTenantKeyStore, config_version: Callable[[str], int]) -> None:
        self._keys = keys
        self._config_version = config_version

    def current(self, tenant: str, scope: str = DEFAULT_SCOPE) -> WrappedTenantKey | None:
        """The tenant's newest unretired TK of ``scope``, or None."""
        stored = self._keys.current(tenant, scope)
        return None if stored is None else _wrapped(stored)

    def copy(self, tenant: str, tk_id: str, reason: str) -> bytes | None:
        """The TK wrapped for ``reason``, or None."""
        try:
            stored = self._keys.copy(tenant, tk_id, reason)
        except NotFound:
            return None
        return None if stored is None else stored.wrapped

    def add_copy(self, tenant: str, tk_id: str, reason: str, wrapped: bytes, key_arn: str) -> None:
        """Keep the TK wrapped for ``reason`` by the CMK ``key_arn``."""
        stored = self._keys.get(tenant, tk_id)
        version = (
            stored.key_config_version if key_arn == stored.key_arn
            else self._config_version(tenant)
        )  # fmt: skip
        self._keys.add_copy(
            tenant, tk_id, reason, wrapped=wrapped, key_arn=key_arn, key_config_version=version
        )

    def get(self, tenant: str, tk_id: str) -> WrappedTenantKey | None:
        """The tenant's TK ``tk_id``, or None (never another tenant's)."""
        try:
            return _wrapped(self._keys.get(tenant, tk_id))
        except NotFound:
            return None

    def add(self, key: WrappedTenantKey) -> None:
        """Persist a new TK under the tenant's active configuration version.

        Raises:
            Conflict: the TK id is taken.
            StateError: the tenant has no active configuration.
        """
        self._keys.add(
            key.tenant,
            key.tk_id,
            key_arn=key.key_arn,
            key_config_version=self._config_version(key.tenant),
            wrapped=key.wrapped,
            created_at=datetime.fromtimestamp(key.created_at, UTC),
            kms_context=key.context,
        )


def _wrapped(stored: StoredTenantKey) -> WrappedTenantKey:
    return WrappedTenantKey(
        tenant=stored.tenant,
        tk_id=stored.tk_id,
        key_arn=stored.key_arn,
        wrapped=stored.wrapped,
        created_at=stored.created_at.timestamp(),
        context=stored.kms_context,
    )
