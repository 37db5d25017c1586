"""TenantKeyCache.get_or_load: single flight, refresh-ahead, deny is not outage.

Hostile cases: a thundering herd on a cold cache (one load), a load that fails (every waiter
gets that error, nothing cached), a refresh that fails (the bound is not extended), a purge
that lands while a load is in flight (nothing cached again), an outage with and without a
tenant's grace (served until exactly the bound, or bound + grace, then refused), and KMS not
hammered during an outage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from byok.core.keycache import OUTAGE_RETRY_S, TenantKeyCache
from byok.core.raw_keys import TenantKey
from byok.errors import InvalidInput, KeyAccessDenied, KmsThrottled, KmsUnavailable

ARN = "arn:aws:kms:us-east-1:111122223333:key/a"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Kms:
    """A loader that counts calls, can block until released, and can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.failure: Callable[[], Exception] | None = None
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> TenantKey:
        with self._lock:
            self.calls += 1
            n = self.calls
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never released the load"
        if self.failure is not None:
            raise self.failure()
        return TenantKey("acme", "tk_1", bytes([n]) * 32)


def run_threads(count: int, target: Callable[[], None]) -> list[threading.Thread]:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_eight_cold_callers_make_one_load_and_share_the_key() -> None:
    cache, kms = TenantKeyCache(ttl_s=60), Kms()
    kms.gate = threading.Event()
    got: list[TenantKey] = []
    threads = run_threads(8, lambda: got.append(cache.get_or_load("acme", "tk_1", ARN, kms)))
    assert kms.entered.wait(5)
    while cache.stalls < 7:  # every other caller is waiting on the one load
        threading.Event().wait(0.001)
    kms.gate.set()
    for thread in threads:
        thread.join(10)
    assert kms.calls == 1
    assert len(got) == 8 and all(k is got[0] for k in got)
    assert (cache.loads, cache.stalls) == (1, 7)


@pytest.mark.parametrize("error", [KeyAccessDenied("denied"), KmsThrottled("slow down")])
def test_waiters_get_the_same_error_and_nothing_is_cached(error: Exception) -> None:
    cache, kms = TenantKeyCache(ttl_s=60), Kms()
    kms.gate, kms.failure = threading.Event(), lambda: error
    errors: list[BaseException] = []

    def call() -> None:
        try:
            cache.get_or_load("acme", "tk_1", ARN, kms)
        except Exception as exc:
            errors.append(exc)

    threads = run_threads(8, call)
    assert kms.entered.wait(5)
    while cache.stalls < 7:
        threading.Event().wait(0.001)
    kms.gate.set()
    for thread in threads:
        thread.join(10)
    assert kms.calls == 1
    assert len(errors) == 8 and all(e is error for e in errors)
    assert len(cache) == 0


def test_refresh_ahead_one_caller_reloads_while_the_others_keep_the_valid_entry() -> None:
    clock, kms = FakeClock(), Kms()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=10)
    first = cache.get_or_load("acme", "tk_1", ARN, kms)
    clock.now += 95  # inside the refresh window, still valid
    kms.gate = threading.Event()
    refreshed: list[TenantKey] = []
    leader = run_threads(1, lambda: refreshed.append(cache.get_or_load("acme", "tk_1", ARN, kms)))
    assert kms.entered.wait(5)
    # While the refresh is in flight, every other caller is served at once, without waiting.
    for _ in range(50):
        assert cache.get_or_load("acme", "tk_1", ARN, kms) is first
    kms.gate.set()
    leader[0].join(10)
    assert kms.calls == 2 and cache.refreshes == 1 and cache.stalls == 0
    assert refreshed[0] is not first
    # The new proof counts from the refresh: valid for a full TTL from now.
    clock.now += 99
    assert cache.get("acme", "tk_1", ARN) is refreshed[0]


def test_a_failed_refresh_never_extends_the_bound() -> None:
    clock, kms = FakeClock(), Kms()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=10)
    first = cache.get_or_load("acme", "tk_1", ARN, kms)
    kms.failure = lambda: KmsUnavailable("5xx")
    clock.now += 95
    assert cache.get_or_load("acme", "tk_1", ARN, kms) is first  # outage: still within bound
    clock.now += 4.999
    assert cache.get_or_load("acme", "tk_1", ARN, kms) is first
    clock.now += 0.001  # exactly the bound from the last successful proof
    with pytest.raises(KmsUnavailable):
        cache.get_or_load("acme", "tk_1", ARN, kms)
    assert cache.get("acme", "tk_1", ARN) is None


def test_an_outage_is_retried_at_most_once_a_second_per_key() -> None:
    clock, kms = FakeClock(), Kms()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=20)
    cache.get_or_load("acme", "tk_1", ARN, kms)
    kms.failure = lambda: KmsThrottled("throttled")
    clock.now += 85
    for _ in range(100):
        cache.get_or_load("acme", "tk_1", ARN, kms)
    assert kms.calls == 2  # the first load and one refresh attempt
    clock.now += OUTAGE_RETRY_S
    cache.get_or_load("acme", "tk_1", ARN, kms)
    assert kms.calls == 3


def test_without_grace_an_expired_key_fails_closed_on_an_outage() -> None:
    clock, kms = FakeClock(), Kms()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=0)
    cache.get_or_load("acme", "tk_1", ARN, kms)
    kms.failure = lambda: KmsThrottled("throttled")
    clock.now += 100
    with pytest.raises(KmsThrottled):
        cache.get_or_load("acme", "tk_1", ARN, kms)


def test_outage_grace_serves_until_bound_plus_grace_then_refuses() -> None:
    clock, kms = FakeClock(), Kms()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=0)
    cache.set_outage_grace("acme", 30)
    first = cache.get_or_load("acme", "tk_1", ARN, kms)
    kms.failure = lambda: KmsUnavailable("timeout")
    clock.now += 100
    assert cache.get("acme", "tk_1", ARN) is None  # plain lookups never use the grace
    assert cache.get_or_load("acme", "tk_1", ARN, kms) is first
    clock.now += 29.9
    assert cache.get_or_load("acme", "tk_1", ARN, kms) is first
    clock.now += 0.1
    with pytest.raises(KmsUnavailable):
        cache.get_or_load("acme", "tk_1", ARN, kms)
    assert cache.grace_serves >= 2


def test_a_deny_in_the_grace_is_never_masked() -> None:
    clock, kms = FakeClock(), Kms()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=0)
    cache.set_outage_grace("acme", 30)
    cache.get_or_load("acme", "tk_1", ARN, kms)
    kms.failure = lambda: KeyAccessDenied("revoked")
    clock.now += 100
    with pytest.raises(KeyAccessDenied):
        cache.get_or_load("acme", "tk_1", ARN, kms)


def test_other_tenants_have_no_grace() -> None:
    clock = FakeClock()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=0)
    cache.set_outage_grace("acme", 30)
    kms = Kms()
    cache.get_or_load("other", "tk_1", ARN, kms)
    kms.failure = lambda: KmsThrottled("throttled")
    clock.now += 100
    with pytest.raises(KmsThrottled):
        cache.get_or_load("other", "tk_1", ARN, kms)


def test_a_purge_during_a_load_wins() -> None:
    cache, kms = TenantKeyCache(ttl_s=60), Kms()
    kms.gate = threading.Event()
    got: list[TenantKey] = []
    thread = run_threads(1, lambda: got.append(cache.get_or_load("acme", "tk_1", ARN, kms)))[0]
    assert kms.entered.wait(5)
    cache.purge_tenant("acme")  # a deny arrived (here or from another node) meanwhile
    kms.gate.set()
    thread.join(10)
    assert len(got) == 1
    assert cache.get("acme", "tk_1", ARN) is None  # not cached after the purge


@pytest.mark.parametrize("grace", [-1, 100.5])
def test_grace_is_bounded_by_the_ttl(grace: float) -> None:
    with pytest.raises(InvalidInput, match="outage_grace_s"):
        TenantKeyCache(ttl_s=100).set_outage_grace("acme", grace)


@pytest.mark.parametrize("ahead", [-1, 100])
def test_refresh_window_is_checked(ahead: float) -> None:
    with pytest.raises(InvalidInput, match="refresh_ahead_s"):
        TenantKeyCache(ttl_s=100, refresh_ahead_s=ahead)


def test_the_bound_counts_from_when_the_kms_call_started() -> None:
    clock = FakeClock()
    cache = TenantKeyCache(ttl_s=100, clock=clock, refresh_ahead_s=0)

    def slow_kms() -> TenantKey:
        clock.now += 30  # KMS took 30 s to answer: it could have refused at its start
        return TenantKey("acme", "tk_1", bytes(32))

    cache.get_or_load("acme", "tk_1", ARN, slow_kms)
    clock.now += 69.999  # 99.999 s after the call started
    assert cache.get("acme", "tk_1", ARN) is not None
    clock.now += 0.001
    assert cache.get("acme", "tk_1", ARN) is None
