"""Tenant keys carry their scope and period in the KMS context, and unwrap under exactly it.

docs/SECURITY.md#scoped-tenant-keys: a new TK's KMS encryption context names its scope
(``default`` until per-tenant scopes exist) and its UTC calendar month; a new month starts a
new TK (KMS calls stay one per TK, not per document); every unwrap uses the context recorded
on the TK's row, so TKs made before periods keep working and a tampered row is refused.
"""

from __future__ import annotations

import calendar
from collections import Counter

import pytest

from byok.core.context import (
    PERIOD_CONTEXT_KEY,
    SCOPE_CONTEXT_KEY,
    month_period,
    period_end,
    stored_key_context,
    tenant_key_context,
)
from byok.core.envelope import Envelope, KeyEvent
from byok.core.format import parse_header
from byok.core.key_use import KeyUse
from byok.core.memory_wrapper import MemoryKeyWrapper
from byok.core.tenant_keys import MemoryTenantKeyStore, WrappedTenantKey
from byok.errors import IntegrityError

NOV_30 = calendar.timegm((2026, 11, 30, 23, 59, 0, 0, 0, 0))
DEC_1 = calendar.timegm((2026, 12, 1, 0, 0, 0, 0, 0, 0))


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_period_is_the_utc_month_and_ends_at_the_next_one() -> None:
    assert month_period(NOV_30) == "2026-11"
    assert month_period(DEC_1) == "2026-12"
    assert period_end("2026-11") == DEC_1
    assert period_end("2026-12") == calendar.timegm((2027, 1, 1, 0, 0, 0, 0, 0, 0))
    assert period_end("garbage") == float("-inf")  # unparsable: treated as over (rotate)
    assert period_end("2026-13") == float("-inf")


def test_one_generate_data_key_per_period_and_old_periods_stay_readable() -> None:
    events: Counter[str] = Counter()
    contexts: list[dict[str, str]] = []

    def audit(event: KeyEvent) -> None:
        events[event.operation] += 1
        if event.context is not None and event.operation != "kms:Encrypt":
            contexts.append(dict(event.context))

    store, wrapper, clock = MemoryTenantKeyStore(), MemoryKeyWrapper(), Clock(NOV_30)
    env = Envelope(store, clock=clock, audit=audit)
    november = [env.encrypt("acme", wrapper, f"n{i}", b"nov") for i in range(100)]
    clock.now = DEC_1
    december = [env.encrypt("acme", wrapper, f"d{i}", b"dec") for i in range(100)]
    assert events["kms:GenerateDataKey"] == 2  # O(TKs): one per period, not per document
    assert events["kms:Encrypt"] == 2  # and each one's customer-request copy
    periods = [c[PERIOD_CONTEXT_KEY] for c in contexts]
    assert periods == ["2026-11", "2026-12"]
    assert {c[SCOPE_CONTEXT_KEY] for c in contexts} == {"default"}
    assert len({parse_header(ct).tk_id for ct in november}) == 1
    assert len({parse_header(ct).tk_id for ct in december}) == 1

    # A fresh process (empty cache) unwraps each TK once, under the context it was made with.
    events.clear()
    contexts.clear()
    reader = Envelope(store, clock=clock, audit=audit)
    for i, ct in enumerate(november):
        assert reader.decrypt("acme", wrapper, f"n{i}", ct) == b"nov"
    for i, ct in enumerate(december):
        assert reader.decrypt("acme", wrapper, f"d{i}", ct) == b"dec"
    assert events["kms:Decrypt"] == 2
    assert [c[PERIOD_CONTEXT_KEY] for c in contexts] == ["2026-11", "2026-12"]


def test_a_tk_made_before_periods_stays_readable_and_is_replaced_at_the_next_write() -> None:
    """A legacy TK (no recorded context) unwraps under {tenant, tk}; new writes get a TK
    that states scope, period and reason."""
    wrapper, store = MemoryKeyWrapper(), MemoryTenantKeyStore()
    data_key = wrapper.generate_data_key(tenant_key_context("acme", "tk_old"))
    store.add(WrappedTenantKey("acme", "tk_old", wrapper.key_arn, data_key.wrapped, DEC_1))
    old = Envelope(store).keys.for_reading("acme", wrapper, "tk_old", KeyUse())
    assert old.material == data_key.plaintext and old.bound == {}
    env = Envelope(store, clock=Clock(DEC_1 + 60))
    ct = env.encrypt("acme", wrapper, "doc", b"hello")
    assert parse_header(ct).tk_id != "tk_old"
    assert Envelope(store).decrypt("acme", wrapper, "doc", ct) == b"hello"


def test_a_recorded_context_for_another_tenant_or_tk_is_refused_before_kms() -> None:
    with pytest.raises(IntegrityError):
        stored_key_context("acme", "tk_1", {"byok:tenant": "evil", "byok:tk": "tk_1"})
    with pytest.raises(IntegrityError):
        stored_key_context("acme", "tk_1", {"byok:tenant": "acme", "byok:tk": "tk_2"})
    with pytest.raises(IntegrityError):  # a key byok never writes
        stored_key_context(
            "acme", "tk_1", {"byok:tenant": "acme", "byok:tk": "tk_1", "byok:admin": "yes"}
        )
    calls: list[str] = []
    wrapper, store = MemoryKeyWrapper(), MemoryTenantKeyStore()
    env = Envelope(store, audit=lambda e: calls.append(e.operation))
    ct = env.encrypt("acme", wrapper, "doc", b"x")
    tk = store.current("acme")
    assert tk is not None and tk.context is not None
    forged = dict(tk.context, **{"byok:tenant": "evil"})
    tampered = MemoryTenantKeyStore()
    tampered.add(WrappedTenantKey("acme", tk.tk_id, tk.key_arn, tk.wrapped, tk.created_at, forged))
    calls.clear()
    with pytest.raises(IntegrityError):
        Envelope(tampered, audit=lambda e: calls.append(e.operation)).decrypt(
            "acme", wrapper, "doc", ct
        )
    assert calls == []  # refused before any KMS call
