"""TenantKeyCache: TTL (the revocation bound), LRU limit, purge, thread safety."""

from __future__ import annotations

import threading

import pytest

from byok.core.keycache import CacheKey, TenantKeyCache
from byok.core.raw_keys import TenantKey
from byok.errors import InvalidInput

ARN = "arn:aws:kms:us-east-1:111122223333:key/a"
ARN2 = "arn:aws:kms:us-east-1:111122223333:key/b"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(tenant: str = "acme", tk_id: str = "tk_1") -> TenantKey:
    return TenantKey(tenant, tk_id, bytes(32))


def test_entry_served_until_ttl_then_gone() -> None:
    clock = FakeClock()
    cache = TenantKeyCache(ttl_s=300, clock=clock)
    k = key()
    cache.put(ARN, k)
    clock.now += 299.999
    assert cache.get("acme", "tk_1", ARN) is k
    clock.now += 0.001
    assert cache.get("acme", "tk_1", ARN) is None
    assert len(cache) == 0


def test_ttl_counts_from_put_not_from_last_use() -> None:
    clock = FakeClock()
    cache = TenantKeyCache(ttl_s=10, clock=clock)
    cache.put(ARN, key())
    for _ in range(9):
        clock.now += 1
        assert cache.get("acme", "tk_1", ARN) is not None
    clock.now += 1
    assert cache.get("acme", "tk_1", ARN) is None


def test_keyed_by_tenant_tk_and_key_arn() -> None:
    cache = TenantKeyCache()
    cache.put(ARN, key())
    assert cache.get("acme", "tk_1", ARN2) is None
    assert cache.get("acme", "tk_2", ARN) is None
    assert cache.get("other", "tk_1", ARN) is None
    assert CacheKey("acme", "tk_1", ARN) in cache
    assert CacheKey("acme", "tk_1", ARN2) not in cache


def test_lru_evicts_least_recently_used() -> None:
    cache = TenantKeyCache(max_entries=2)
    cache.put(ARN, key(tk_id="a"))
    cache.put(ARN, key(tk_id="b"))
    assert cache.get("acme", "a", ARN) is not None  # a is now most recent
    cache.put(ARN, key(tk_id="c"))
    assert cache.get("acme", "b", ARN) is None
    assert cache.get("acme", "a", ARN) is not None
    assert cache.get("acme", "c", ARN) is not None
    assert len(cache) == 2


def test_put_sweeps_expired_entries() -> None:
    clock = FakeClock()
    cache = TenantKeyCache(ttl_s=5, clock=clock)
    cache.put(ARN, key(tk_id="old"))
    clock.now += 6
    cache.put(ARN, key(tk_id="new"))
    assert len(cache) == 1


def test_purge_tenant_drops_only_that_tenant() -> None:
    cache = TenantKeyCache()
    for tk in ("a", "b"):
        cache.put(ARN, key("acme", tk))
        cache.put(ARN, key("other", tk))
    assert cache.purge_tenant("acme") == 2
    assert cache.get("acme", "a", ARN) is None
    assert cache.get("other", "a", ARN) is not None
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize(("ttl", "size"), [(0.5, 10), (3601, 10), (300, 0)])
def test_bounds_are_validated(ttl: float, size: int) -> None:
    with pytest.raises(InvalidInput):
        TenantKeyCache(ttl_s=ttl, max_entries=size)


def test_ttl_settable_down_to_one_second() -> None:
    assert TenantKeyCache(ttl_s=1).ttl_s == 1.0
    assert "ttl_s=300" in repr(TenantKeyCache())


def test_concurrent_use_is_consistent() -> None:
    cache = TenantKeyCache(max_entries=50)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(500):
                k = key(f"t{n}", f"k{i % 80}")
                cache.put(ARN, k)
                got = cache.get(f"t{n}", f"k{i % 80}", ARN)
                assert got is None or got.tk_id == k.tk_id
                if i % 97 == 0:
                    cache.purge_tenant(f"t{(n + 1) % 8}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 50
