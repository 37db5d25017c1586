"""TenantKeyCache: plaintext tenant keys in memory, for at most the revocation bound.

The TTL *is* the revocation bound (DESIGN.md "Key hierarchy"): an entry is never served after
``ttl_s`` seconds from when its key was unwrapped, so once a customer revokes access, the next
use after the TTL goes back to KMS and fails. Entries are keyed by (tenant, TK id, key ARN): a
tenant moved to another CMK never reuses a key obtained through the old one. The size limit
evicts the least recently used entry. Thread-safe; the clock is injectable (monotonic by
default) so tests control expiry exactly.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from byok.core.raw_keys import TenantKey
from byok.errors import InvalidInput

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_TTL_S",
    "MAX_TTL_S",
    "MIN_TTL_S",
    "CacheKey",
    "TenantKeyCache",
]

DEFAULT_TTL_S = 300.0
MIN_TTL_S = 1.0
MAX_TTL_S = 3600.0
DEFAULT_MAX_ENTRIES = 10_000


class CacheKey(NamedTuple):
    """What a cached tenant key is filed under (equal to the plain tuple of its fields)."""

    tenant: str
    tk_id: str
    key_arn: str


class TenantKeyCache:
    """An LRU map of (tenant, TK id, key ARN) to plaintext :class:`TenantKey`, with a TTL.

    Args:
        ttl_s: seconds an entry may be served after it was put (1 to 3600; default 300).
        max_entries: size limit (least recently used entries are evicted first).
        clock: monotonic seconds (default :func:`time.monotonic`).

    Raises:
        InvalidInput: ``ttl_s`` outside 1..3600 or ``max_entries`` below 1.
    """

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
            raise InvalidInput("ttl_s", f"must be between {MIN_TTL_S:g} and {MAX_TTL_S:g} seconds")
        if max_entries < 1:
            raise InvalidInput("max_entries", "must be at least 1")
        self._ttl = float(ttl_s)
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, TenantKey]] = OrderedDict()
        #: Lookups answered from the cache / not (absent or expired), for metrics.
        self.hits = 0
        self.misses = 0

    @property
    def ttl_s(self) -> float:
        """The TTL (the revocation bound) in seconds."""
        return self._ttl

    def get(self, tenant: str, tk_id: str, key_arn: str) -> TenantKey | None:
        """Return the cached key, or None if absent or expired (an expired entry is dropped)."""
        key = (tenant, tk_id, key_arn)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            if now >= entry[0]:
                del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key_arn: str, tenant_key: TenantKey) -> None:
        """Cache ``tenant_key`` (obtained through ``key_arn``) for the TTL from now.

        Expired entries are swept, then least recently used ones evicted beyond the limit.
        """
        key = (tenant_key.tenant, tenant_key.tk_id, key_arn)
        now = self._clock()
        with self._lock:
            self._entries[key] = (now + self._ttl, tenant_key)
            self._entries.move_to_end(key)
            self._sweep(now)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def purge_tenant(self, tenant: str) -> int:
        """Drop every key of ``tenant`` at once (on any "no access" answer from KMS).

        Returns:
            How many entries were dropped.
        """
        with self._lock:
            doomed = [k for k in self._entries if k[0] == tenant]
            for k in doomed:
                del self._entries[k]
        return len(doomed)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        """The number of entries held (including expired ones not yet swept)."""
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether a live entry exists for a :class:`CacheKey` (does not touch LRU order)."""
        if not isinstance(key, tuple):
            return False
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and now < entry[0]

    def _sweep(self, now: float) -> None:
        # Entries are in use order, not expiry order; a full scan is O(n) but only on put,
        # which happens once per KMS call.
        expired = [k for k, (expires, _) in self._entries.items() if now >= expires]
        for k in expired:
            del self._entries[k]

    def __repr__(self) -> str:
        return f"TenantKeyCache(ttl_s={self._ttl:g}, entries={len(self._entries)})"
