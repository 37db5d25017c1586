"""Tenant notifications (``byok.service.notify.TenantNotifier``): signed, bounded, never in the
request path. The webhook is the tenant's key-policy ``webhook_url``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from byok.errors import StorageError
from byok.service.notify import TenantNotifier, sign, verify
from byok.store.database import Store
from byok.store.key_policies import KeyPolicyRepository
from byok.store.tenants import TenantRepository


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'byok.db'}")
    TenantRepository(opened).create("acme", name="Acme", external_id="byok-" + "a" * 43)
    yield opened
    opened.close()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections and never answers (a hung receiver)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def _hook(store: Store, url: str) -> None:
    KeyPolicyRepository(store).update("acme", webhook_url=url, webhook_secret="s" * 64)


def test_a_hung_endpoint_never_blocks_the_caller(store: Store, silent_endpoint: str) -> None:
    notifier = TenantNotifier(store, timeout_s=0.3)
    _hook(store, silent_endpoint)
    started = time.monotonic()
    for i in range(8):
        assert notifier.notify("acme", "key-config:submitted", {"version": i})
    assert time.monotonic() - started < 1.0  # queued, not sent, by the caller (8 x 0.3 s)
    assert notifier.drain(timeout_s=30)
    assert notifier.failures >= 8 and notifier.delivered == 0


def test_a_full_queue_drops_and_counts_instead_of_waiting(
    store: Store, silent_endpoint: str
) -> None:
    notifier = TenantNotifier(store, timeout_s=0.5, max_queue=2)
    _hook(store, silent_endpoint)
    results = [notifier.notify("acme", "e", {}) for _ in range(10)]
    assert results.count(False) >= 7 and notifier.failures >= 7
    notifier.drain(timeout_s=30)


def test_no_webhook_means_nothing_is_sent(store: Store) -> None:
    assert TenantNotifier(store).notify("acme", "key-config:submitted", {}) is False


def test_an_unreadable_store_never_fails_the_caller(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = TenantNotifier(store)

    def broken(tenant: str) -> None:
        raise StorageError("could not read metadata", tenant=tenant)

    monkeypatch.setattr(notifier.policies, "get", broken)
    assert notifier.notify("acme", "key-config:submitted", {}) is False
    assert notifier.failures == 1


def test_the_signature_covers_timestamp_and_body() -> None:
    header = sign("secret", b'{"a":1}', 100)
    assert verify("secret", b'{"a":1}', header, now=100)
    assert not verify("secret", b'{"a":2}', header, now=100)
    assert not verify("other", b'{"a":1}', header, now=100)
    assert not verify("secret", b'{"a":1}', header, now=100 + 3600)  # a replay, later
