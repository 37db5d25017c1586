"""Leases: one holder at a time, taken over after expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from byok.errors import InvalidInput
from byok.store import LeaseRepository, Store


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_one_holder_until_expiry(database_url: str) -> None:
    clock = FakeClock()
    store = Store.open(database_url, clock=clock)
    leases = LeaseRepository(store)
    ttl = timedelta(seconds=30)
    assert leases.try_acquire("key-monitor", "proc-a", ttl)
    assert not leases.try_acquire("key-monitor", "proc-b", ttl)
    assert leases.holder("key-monitor") == "proc-a"
    clock.now += timedelta(seconds=20)
    assert leases.try_acquire("key-monitor", "proc-a", ttl)  # renewal
    clock.now += timedelta(seconds=20)
    assert not leases.try_acquire("key-monitor", "proc-b", ttl)
    clock.now += timedelta(seconds=11)
    assert leases.holder("key-monitor") is None
    assert leases.try_acquire("key-monitor", "proc-b", ttl)
    leases.release("key-monitor", "proc-a")  # not the holder: no effect
    assert leases.holder("key-monitor") == "proc-b"
    leases.release("key-monitor", "proc-b")
    assert leases.try_acquire("key-monitor", "proc-a", ttl)
    with pytest.raises(InvalidInput):
        leases.try_acquire("key-monitor", "proc-a", timedelta(0))
    store.close()
