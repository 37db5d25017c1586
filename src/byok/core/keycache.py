"""TenantKeyCache: plaintext tenant keys in memory, for at most the revocation bound.

The TTL *is* the revocation bound (DESIGN.md "Key hierarchy"): an entry is never served after
``ttl_s`` seconds from the last successful KMS proof of it (the unwrap or GenerateDataKey that
produced it), so once a customer revokes access, the next use after the TTL goes back to KMS
and fails. Entries are keyed by (tenant, TK id, key ARN, access reason): a tenant moved to
another CMK never reuses a key obtained through the old one, and a key unwrapped for one
reason (``byok:reason``) is never served for another (docs/SECURITY.md#access-reasons). The
size limit evicts the least recently used entry. Thread-safe; the clock is injectable
(monotonic by default) so tests control expiry.

:meth:`TenantKeyCache.get_or_load` is how keys are fetched (the envelope uses it):

* **Single flight.** Concurrent misses for one key make one ``load`` call (one KMS Decrypt);
  the callers that waited get the same key or the same exception.
* **Refresh ahead** (botocore's advisory window). In the last ``refresh_ahead_s`` of an
  entry's life one caller re-proves it with KMS while every other caller keeps using the
  still-valid entry, so a busy key never stalls at expiry. The bound counts from the last
  successful proof: a failed or skipped refresh never extends it.
* **Deny is not outage.** A :class:`~byok.errors.CustomerAccessError` (denied, disabled,
  pending deletion, not found...) purges the tenant at once (the caller's envelope does it;
  a key loaded concurrently is then not cached). A :class:`~byok.errors.TransientKmsError`
  (throttled, 5xx, timeout) is an outage: a still-valid entry keeps serving until the bound,
  and a tenant's *outage grace* (:meth:`set_outage_grace`; default 0 = fail closed; at most
  the TTL) lets an expired entry serve up to ``grace`` longer while KMS keeps failing that
  way. During an outage KMS is retried at most every ``OUTAGE_RETRY_S`` per key.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from byok.core.raw_keys import TenantKey
from byok.errors import InvalidInput, TransientKmsError

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_TTL_S",
    "MAX_TTL_S",
    "MIN_TTL_S",
    "OUTAGE_RETRY_S",
    "CacheKey",
    "Loader",
    "TenantKeyCache",
]

DEFAULT_TTL_S = 300.0
MIN_TTL_S = 1.0
MAX_TTL_S = 3600.0
DEFAULT_MAX_ENTRIES = 10_000
OUTAGE_RETRY_S = 1.0
_Key = tuple[str, str, str, str]
Loader = Callable[[], TenantKey]


class CacheKey(NamedTuple):
    """What a cached tenant key is filed under (equal to the plain tuple of its fields)."""

    tenant: str
    tk_id: str
    key_arn: str
    reason: str = ""


@dataclass
class _Entry:
    key: TenantKey
    expires: float  # last successful KMS proof + TTL; never moved by a failed refresh
    retry_at: float = 0.0  # after an outage: no new KMS attempt before this


@dataclass
class _Flight:
    """One KMS load in progress; waiters receive its outcome."""

    epoch: int
    done: threading.Event = field(default_factory=threading.Event)
    key: TenantKey | None = None
    error: BaseException | None = None


_NO_FLIGHT = _Flight(epoch=-1)


class TenantKeyCache:
    """An LRU map of (tenant, TK id, key ARN) to plaintext :class:`TenantKey`, with a TTL.

    Args:
        ttl_s: seconds an entry may be served after its last KMS proof (1 to 3600; 300).
        max_entries: size limit (least recently used entries are evicted first).
        clock: monotonic seconds (default :func:`time.monotonic`).
        refresh_ahead_s: the refresh window before expiry (default: a tenth of the TTL, at
            most 30 s); 0 turns refresh-ahead off.

    Raises:
        InvalidInput: ``ttl_s`` outside 1..3600, ``max_entries`` below 1, or
            ``refresh_ahead_s`` negative or not below ``ttl_s``.
    """

    def __init__(
        self,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        refresh_ahead_s: float | None = None,
    ) -> None:
        if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
            raise InvalidInput("ttl_s", f"must be between {MIN_TTL_S:g} and {MAX_TTL_S:g} seconds")
        if max_entries < 1:
            raise InvalidInput("max_entries", "must be at least 1")
        ahead = min(ttl_s / 10, 30.0) if refresh_ahead_s is None else refresh_ahead_s
        if not 0 <= ahead < ttl_s:
            raise InvalidInput("refresh_ahead_s", "must be at least 0 and below the TTL")
        self._ttl = float(ttl_s)
        self._ahead = float(ahead)
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._flights: dict[_Key, _Flight] = {}
        self._epochs: dict[str, int] = {}
        self._grace: dict[str, float] = {}
        #: Lookups answered from the cache / not (absent or expired), for metrics.
        self.hits = 0
        self.misses = 0
        #: KMS loads started (misses and refreshes), refreshes ahead of expiry, callers that
        #: waited for another caller's load, and keys served in an outage grace.
        self.loads = 0
        self.refreshes = 0
        self.stalls = 0
        self.grace_serves = 0

    @property
    def ttl_s(self) -> float:
        """The TTL (the revocation bound) in seconds."""
        return self._ttl

    @property
    def refresh_ahead_s(self) -> float:
        """How long before expiry one caller re-proves an entry (0: never ahead)."""
        return self._ahead

    def set_outage_grace(self, tenant: str, grace_s: float) -> None:
        """Let ``tenant``'s expired keys serve ``grace_s`` longer while KMS has an outage.

        Raises:
            InvalidInput: ``grace_s`` negative or above the TTL (the revocation bound).
        """
        if not 0 <= grace_s <= self._ttl:
            raise InvalidInput("outage_grace_s", f"must be between 0 and {self._ttl:g} seconds")
        with self._lock:
            if grace_s:
                self._grace[tenant] = float(grace_s)
            else:
                self._grace.pop(tenant, None)

    def get(self, tenant: str, tk_id: str, key_arn: str, reason: str = "") -> TenantKey | None:
        """Return the cached key, or None if absent or expired (an expired entry is dropped)."""
        key = (tenant, tk_id, key_arn, reason)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or now >= entry.expires:
                if entry is not None and now >= entry.expires + self._grace.get(tenant, 0.0):
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.key

    def get_or_load(
        self, tenant: str, tk_id: str, key_arn: str, load: Loader, reason: str = ""
    ) -> TenantKey:
        """Return the key from the cache, or from ``load()`` (single flight, refresh-ahead).

        Returns:
            The cached key, the freshly loaded one, or (outage only) a still-valid or
            in-grace cached key.

        Raises:
            Whatever ``load`` raised (every waiter of that load gets the same exception).
        """
        key = (tenant, tk_id, key_arn, reason)
        with self._lock:
            served, flight, leader = self._plan(key, self._clock())
        if served is not None:
            return served
        if not leader:
            return self._wait(flight)
        return self._lead(key, flight, load)

    def _plan(self, key: _Key, now: float) -> tuple[TenantKey | None, _Flight, bool]:
        """Under the lock: (a key to serve now | None, the flight, whether to lead it)."""
        entry = self._entries.get(key)
        flight = self._flights.get(key)
        held = flight is not None or (entry is not None and now < entry.retry_at)
        if entry is not None and now < entry.expires:
            self._entries.move_to_end(key)
            self.hits += 1
            if now < entry.expires - self._ahead or held:
                return entry.key, _NO_FLIGHT, False
            self.refreshes += 1  # this caller re-proves the entry; the others keep it
        elif self._in_grace(entry, key[0], now) and held:
            assert entry is not None
            self.grace_serves += 1
            return entry.key, _NO_FLIGHT, False
        else:
            self.misses += 1
            if flight is not None:
                self.stalls += 1
                return None, flight, False
        flight = self._flights[key] = _Flight(self._epochs.get(key[0], 0))
        self.loads += 1
        return None, flight, True

    def _wait(self, flight: _Flight) -> TenantKey:
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        assert flight.key is not None
        return flight.key

    def _lead(self, key: _Key, flight: _Flight, load: Loader) -> TenantKey:
        # The proof is dated when the KMS call *started*: a slow answer never stretches the
        # bound past "ttl after the moment KMS could last have refused".
        proved_at = self._clock()
        try:
            loaded = load()
        except TransientKmsError as error:  # an outage: a valid or in-grace entry serves on
            fallback = self._after_outage(key)
            if fallback is None:
                self._finish(key, flight, error=error)
                raise
            self._finish(key, flight, loaded=fallback)
            return fallback
        except BaseException as error:
            self._finish(key, flight, error=error)
            raise
        self._finish(key, flight, loaded=loaded, proved_at=proved_at)
        return loaded

    def _after_outage(self, key: _Key) -> TenantKey | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not (now < entry.expires or self._in_grace(entry, key[0], now)):
                return None
            entry.retry_at = now + min(OUTAGE_RETRY_S, self._ahead or OUTAGE_RETRY_S)
            if now >= entry.expires:
                self.grace_serves += 1
            return entry.key

    def _finish(
        self,
        key: _Key,
        flight: _Flight,
        *,
        loaded: TenantKey | None = None,
        error: BaseException | None = None,
        proved_at: float | None = None,
    ) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
            # A purge (a "no access" answer) during the load wins: nothing is cached again.
            fresh = self._epochs.get(key[0], 0) == flight.epoch
            if proved_at is not None and loaded is not None and fresh:
                self._store(key, loaded, proved_at)
        flight.key, flight.error = loaded, error
        flight.done.set()

    def _in_grace(self, entry: _Entry | None, tenant: str, now: float) -> bool:
        grace = self._grace.get(tenant, 0.0)
        return entry is not None and grace > 0 and entry.expires <= now < entry.expires + grace

    def put(self, key_arn: str, tenant_key: TenantKey, reason: str = "") -> None:
        """Cache ``tenant_key`` (just proved through ``key_arn`` for ``reason``) for the TTL.

        Expired entries are swept, then least recently used ones evicted beyond the limit.
        """
        key = (tenant_key.tenant, tenant_key.tk_id, key_arn, reason)
        with self._lock:
            self._store(key, tenant_key, self._clock())

    def _store(self, key: _Key, tenant_key: TenantKey, now: float) -> None:
        self._entries[key] = _Entry(tenant_key, now + self._ttl)
        self._entries.move_to_end(key)
        self._sweep(now)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, tenant: str, tk_id: str, key_arn: str, reason: str = "") -> None:
        """Drop one entry (KMS refused to prove it again for its reason)."""
        with self._lock:
            self._entries.pop((tenant, tk_id, key_arn, reason), None)

    def purge_tenant(self, tenant: str) -> int:
        """Drop every key of ``tenant`` at once (on any "no access" answer from KMS).

        Loads already in flight for the tenant still answer their callers but cache nothing.

        Returns:
            How many entries were dropped.
        """
        with self._lock:
            self._epochs[tenant] = self._epochs.get(tenant, 0) + 1
            doomed = [k for k in self._entries if k[0] == tenant]
            for k in doomed:
                del self._entries[k]
        return len(doomed)

    def clear(self) -> None:
        """Drop every entry (loads in flight cache nothing)."""
        with self._lock:
            for tenant in {k[0] for k in self._entries} | {k[0] for k in self._flights}:
                self._epochs[tenant] = self._epochs.get(tenant, 0) + 1
            self._entries.clear()

    def __len__(self) -> int:
        """The number of entries held (including expired ones not yet swept)."""
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """Whether a live entry exists for a :class:`CacheKey` (does not touch LRU order); a
        ``(tenant, tk_id, key_arn)`` triple (or an empty reason) asks about any reason."""
        if not isinstance(key, tuple) or len(key) not in (3, 4):
            return False
        prefix = key[:3]
        now = self._clock()
        with self._lock:
            if len(key) == 4 and key[3]:
                entry = self._entries.get(key)
                return entry is not None and now < entry.expires
            return any(k[:3] == prefix and now < e.expires for k, e in self._entries.items())

    def _sweep(self, now: float) -> None:
        # Entries are in use order, not expiry order; a full scan is O(n) but only on put,
        # which happens once per KMS call. Entries in a tenant's outage grace stay.
        expired = [
            k for k, e in self._entries.items() if now >= e.expires + self._grace.get(k[0], 0.0)
        ]
        for k in expired:
            del self._entries[k]

    def __repr__(self) -> str:
        return f"TenantKeyCache(ttl_s={self._ttl:g}, entries={len(self._entries)})"
