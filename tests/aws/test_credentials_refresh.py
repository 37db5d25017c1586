"""RefreshingCredentials: deferred, advisory/mandatory windows, frozen snapshots (pure, threaded).

A fake clock moves time; a counting refresher stands in for sts:AssumeRole and tags every
credential field with its generation, so a mixed snapshot (key of one refresh, secret of
another) is visible.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from byok.aws.credentials import RefreshingCredentials, TemporaryCredentials, role_session_name
from byok.errors import RoleAssumptionDenied

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIFETIME = timedelta(seconds=3600)


class FakeClock:
    def __init__(self) -> None:
        self._now = T0
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


class CountingRefresher:
    """Hands out generation-tagged credentials; can be held at a gate or told to fail."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls = 0
        self.expiry: dict[int, datetime] = {}
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False
        self._lock = threading.Lock()

    def __call__(self) -> TemporaryCredentials:
        with self._lock:
            self.calls += 1
            generation = self.calls
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail:
            raise RoleAssumptionDenied("trust policy refused", tenant="acme")
        now = self.clock()
        self.expiry[generation] = now + LIFETIME
        return TemporaryCredentials(
            f"AK{generation}", f"SK{generation}", f"TK{generation}", now + LIFETIME, now
        )


def _generation(snapshot: tuple[str | None, ...]) -> int:
    access, secret, token = snapshot[0], snapshot[1], snapshot[2]
    assert access is not None and secret is not None and token is not None
    numbers = {re.sub(r"\D", "", part) for part in (access, secret, token)}
    assert len(numbers) == 1, f"mixed credentials: {snapshot!r}"
    return int(numbers.pop())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def refresher(clock: FakeClock) -> CountingRefresher:
    return CountingRefresher(clock)


@pytest.fixture
def creds(clock: FakeClock, refresher: CountingRefresher) -> RefreshingCredentials:
    return RefreshingCredentials(refresher, clock=clock, account_id="111122223333")


def _hammer(creds: RefreshingCredentials, threads: int) -> list[int]:
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(creds.get_frozen_credentials) for _ in range(threads)]
        return [_generation(f.result(timeout=10)) for f in futures]


def test_nothing_is_fetched_before_first_use(
    creds: RefreshingCredentials, refresher: CountingRefresher
) -> None:
    assert refresher.calls == 0
    assert creds.account_id == "111122223333"  # static, never fetched
    assert refresher.calls == 0
    assert _generation(creds.get_frozen_credentials()) == 1
    assert refresher.calls == 1


def test_first_use_by_many_threads_makes_one_call(
    creds: RefreshingCredentials, refresher: CountingRefresher
) -> None:
    assert set(_hammer(creds, 32)) == {1}
    assert refresher.calls == 1


def test_outside_windows_no_refresh(
    creds: RefreshingCredentials, refresher: CountingRefresher, clock: FakeClock
) -> None:
    creds.get_frozen_credentials()
    clock.advance(44 * 60)  # 16 minutes left: outside the 15-minute advisory window
    assert set(_hammer(creds, 8)) == {1}
    assert refresher.calls == 1


def test_advisory_window_one_thread_refreshes_others_keep_old(
    creds: RefreshingCredentials, refresher: CountingRefresher, clock: FakeClock
) -> None:
    creds.get_frozen_credentials()
    clock.advance(47 * 60)  # 13 minutes left: advisory, not mandatory
    refresher.gate.clear()
    refresher.entered.clear()
    with ThreadPoolExecutor(16) as pool:
        refreshing = pool.submit(creds.get_frozen_credentials)
        assert refresher.entered.wait(5)
        # While the refresh is stuck in "STS", every other caller gets the old snapshot now.
        others = [pool.submit(creds.get_frozen_credentials) for _ in range(15)]
        assert {_generation(f.result(timeout=5)) for f in others} == {1}
        assert not refreshing.done()
        refresher.gate.set()
        assert _generation(refreshing.result(timeout=5)) == 2
    assert refresher.calls == 2
    assert _generation(creds.get_frozen_credentials()) == 2


def test_mandatory_window_everyone_waits_for_one_refresh(
    creds: RefreshingCredentials, refresher: CountingRefresher, clock: FakeClock
) -> None:
    creds.get_frozen_credentials()
    clock.advance(55 * 60)  # 5 minutes left: mandatory
    refresher.gate.clear()
    refresher.entered.clear()
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(creds.get_frozen_credentials) for _ in range(16)]
        assert refresher.entered.wait(5)
        threading.Event().wait(0.2)
        assert not any(f.done() for f in futures), "a caller used credentials in the window"
        refresher.gate.set()
        assert {_generation(f.result(timeout=5)) for f in futures} == {2}
    assert refresher.calls == 2


def test_failed_advisory_refresh_keeps_old_credentials(
    creds: RefreshingCredentials, refresher: CountingRefresher, clock: FakeClock
) -> None:
    creds.get_frozen_credentials()
    clock.advance(47 * 60)
    refresher.fail = True
    assert _generation(creds.get_frozen_credentials()) == 1
    assert creds.refresh_count == 1


def test_failed_mandatory_refresh_raises_to_every_waiter_with_one_call(
    creds: RefreshingCredentials, refresher: CountingRefresher, clock: FakeClock
) -> None:
    creds.get_frozen_credentials()
    clock.advance(56 * 60)
    refresher.fail = True
    refresher.gate.clear()
    refresher.entered.clear()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(creds.get_frozen_credentials) for _ in range(8)]
        assert refresher.entered.wait(5)
        threading.Event().wait(0.2)
        refresher.gate.set()
        for future in futures:
            with pytest.raises(RoleAssumptionDenied):
                future.result(timeout=5)
    assert refresher.calls == 2  # the first fetch and one failed refresh, shared by all
    refresher.fail = False
    assert _generation(creds.get_frozen_credentials()) == 3


def test_invalidate_forces_refresh(
    creds: RefreshingCredentials, refresher: CountingRefresher
) -> None:
    creds.get_frozen_credentials()
    creds.invalidate()
    assert _generation(creds.get_frozen_credentials()) == 2


def test_race_no_caller_sees_expired_or_mixed_credentials(
    creds: RefreshingCredentials, refresher: CountingRefresher, clock: FakeClock
) -> None:
    """Many readers while time runs through many windows: always valid, never mixed."""
    stop = threading.Event()
    problems: list[str] = []
    seen: set[int] = set()

    def reader() -> None:
        while not stop.is_set():
            before = clock()
            generation = _generation(creds.get_frozen_credentials())
            seen.add(generation)
            if refresher.expiry[generation] <= before:
                problems.append(f"generation {generation} expired at {before}")
            time.sleep(0)  # let the clock thread run

    threads = [threading.Thread(target=reader) for _ in range(12)]
    for thread in threads:
        thread.start()
    for _ in range(200):
        clock.advance(60)  # 200 minutes: more than three credential lifetimes
        threading.Event().wait(0.002)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert problems == []
    assert len(seen) >= 4
    # One refresh per lifetime (refresh in the window, ~every 45 minutes), never a burst.
    assert refresher.calls <= 200 // 45 + 2
    assert refresher.calls == creds.refresh_count


def test_secrets_not_in_reprs(creds: RefreshingCredentials) -> None:
    creds.get_frozen_credentials()
    temporary = TemporaryCredentials("AKID", "very-secret", "very-token", None)
    assert "very-secret" not in repr(temporary) and "very-token" not in repr(temporary)
    assert "SK1" not in repr(creds) and "TK1" not in repr(creds)


def test_short_lifetime_windows_scale_down(clock: FakeClock) -> None:
    calls: list[int] = []

    def short() -> TemporaryCredentials:
        calls.append(1)
        now = clock()
        return TemporaryCredentials("AK", "SK", "TK", now + timedelta(seconds=300), now)

    creds = RefreshingCredentials(short, clock=clock)
    creds.get_frozen_credentials()
    clock.advance(100)  # 200 s left of 300: outside the scaled advisory window (150 s)
    creds.get_frozen_credentials()
    assert len(calls) == 1
    clock.advance(60)  # 140 s left: advisory
    creds.get_frozen_credentials()
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("tenant", "expected"),
    [("acme", "byok-acme"), ("a.b_c-d", "byok-a.b_c-d"), ("ten ant/é", "byok-ten-ant--")],
)
def test_role_session_name(tenant: str, expected: str) -> None:
    assert role_session_name(tenant) == expected


def test_long_role_session_names_stay_unique_and_valid() -> None:
    one, two = role_session_name("x" * 100 + "1"), role_session_name("x" * 100 + "2")
    assert one != two
    three = role_session_name("x" * 100 + "1", "-check")
    assert three.endswith("-check") and three not in (one, two)
    assert role_session_name("acme", "-check") == "byok-acme-check"
    for name in (one, two, three):
        assert len(name) <= 64 and re.fullmatch(r"[\w+=,.@-]{2,64}", name, re.ASCII)
