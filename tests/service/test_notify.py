"""Tenant webhooks (``byok.service.notify``): signed, bounded, never in the request path."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from byok.errors import InvalidInput, NotFound
from byok.service.notify import Notifier, signature, validate_webhook_url
from byok.store.database import Store
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


def test_a_hung_endpoint_never_blocks_the_caller(store: Store, silent_endpoint: str) -> None:
    notifier = Notifier(store, allow_http=True, timeout_s=0.3)
    notifier.set_webhook("acme", silent_endpoint)
    started = time.monotonic()
    for i in range(8):
        assert notifier.notify("acme", "key-config:submitted", {"version": i})
    assert time.monotonic() - started < 1.0  # queued, not sent, by the caller (8 x 0.3 s)
    assert notifier.drain(timeout_s=30)
    assert notifier.failures >= 8 and notifier.delivered == 0


def test_a_full_queue_drops_and_counts_instead_of_waiting(
    store: Store, silent_endpoint: str
) -> None:
    notifier = Notifier(store, allow_http=True, timeout_s=0.5, max_queue=2)
    notifier.set_webhook("acme", silent_endpoint)
    results = [notifier.notify("acme", "e", {}) for _ in range(10)]
    assert results.count(False) >= 7 and notifier.failures >= 7
    notifier.drain(timeout_s=30)


def test_no_webhook_means_nothing_is_sent(store: Store) -> None:
    notifier = Notifier(store)
    assert notifier.notify("acme", "key-config:submitted", {}) is False
    with pytest.raises(NotFound):
        notifier.remove_webhook("acme")


@pytest.mark.parametrize(
    ("url", "allow_http", "ok"),
    [
        ("https://hooks.example.com/byok", False, True),
        ("http://hooks.example.com/byok", False, False),
        ("http://127.0.0.1:9/x", True, True),
        ("https://user:pw@hooks.example.com/", False, False),
        ("file:///etc/passwd", True, False),
        ("https://", False, False),
        ("https://example.com/\n", False, False),
    ],
)
def test_only_https_urls_unless_the_vendor_allows_http(
    url: str, allow_http: bool, ok: bool
) -> None:
    if ok:
        assert validate_webhook_url(url, allow_http=allow_http) == url
    else:
        with pytest.raises(InvalidInput) as refused:
            validate_webhook_url(url, allow_http=allow_http)
        assert refused.value.field == "url"


def test_the_signature_covers_timestamp_and_body() -> None:
    base = signature("secret", "100", b'{"a":1}')
    assert base.startswith("sha256=") and len(base) == 7 + 64
    assert base != signature("secret", "101", b'{"a":1}')
    assert base != signature("secret", "100", b'{"a":2}')
    assert base != signature("other", "100", b'{"a":1}')


def test_the_secret_is_not_in_the_webhooks_repr(store: Store) -> None:
    hook = Notifier(store).set_webhook("acme", "https://hooks.example.com/x")
    assert hook.secret.startswith("whsec_") and hook.secret not in repr(hook)
