"""Scopes, periods and access reasons in the envelope, against an in-memory root key whose
"key policy" can deny one context value (``MemoryKeyWrapper.deny_context``).

docs/SECURITY.md#customer-levers: every TK states scope, period and reason; each reason has
its own wrapped copy and its own cache entry; a refusal of one value raises ``UseRefused`` and
purges nothing else; a whole-key refusal purges the tenant; documents bind scope and period.
"""

from __future__ import annotations

import calendar
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byok.core.bound_context import BoundContext
from byok.core.context import period_end, period_of
from byok.core.envelope import Envelope
from byok.core.format import parse_header
from byok.core.key_use import CUSTOMER_REQUEST, KeyUse
from byok.core.memory_wrapper import MemoryKeyWrapper
from byok.core.raw_keys import TenantKey
from byok.core.refusals import classify_refusal
from byok.core.stream import decrypt_bytes, encrypt_bytes
from byok.core.tenant_keys import MemoryTenantKeyStore
from byok.errors import IntegrityError, InvalidInput, KeyAccessDenied, KeyDisabled, UseRefused

DEC_3 = calendar.timegm((2026, 12, 3, 10, 30, 0, 0, 0, 0))
CUSTOMER = KeyUse(CUSTOMER_REQUEST)
SUPPORT = KeyUse("vendor-support", ticket="SUP-1")
LEGAL = CUSTOMER.in_scope("legal")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _world() -> tuple[Envelope, MemoryKeyWrapper, MemoryTenantKeyStore, Clock]:
    store, wrapper, clock = MemoryTenantKeyStore(), MemoryKeyWrapper(), Clock(DEC_3)
    return Envelope(store, clock=clock), wrapper, store, clock


def _doc(name: str) -> BoundContext:
    return BoundContext("acme", name, "w_" + "0" * 32)


def test_periods_in_every_unit_and_their_ends() -> None:
    assert [period_of(DEC_3, u) for u in ("month", "day", "hour")] == [
        "2026-12", "2026-12-03", "2026-12-03T10",
    ]  # fmt: skip
    assert period_end("2026-12-03T10") == calendar.timegm((2026, 12, 3, 11, 0, 0, 0, 0, 0))
    assert period_end("2026-12-31") == calendar.timegm((2027, 1, 1, 0, 0, 0, 0, 0, 0))
    assert period_end("2026-12-3") == float("-inf")  # not canonical: over (rotate)
    with pytest.raises(InvalidInput):
        period_of(DEC_3, "week")


@given(st.integers(min_value=0, max_value=4_102_444_800), st.sampled_from(["month", "day", "hour"]))
def test_a_time_is_always_before_the_end_of_its_period(timestamp: int, unit: str) -> None:
    assert timestamp < period_end(period_of(timestamp, unit))


def test_each_scope_and_period_has_its_own_tk_and_documents_bind_them() -> None:
    env, wrapper, store, clock = _world()
    hour = CUSTOMER.in_scope("default", "hour")
    a = env.encrypt("acme", wrapper, _doc("a"), b"a", hour)
    b = env.encrypt("acme", wrapper, _doc("legal/b"), b"b", LEGAL.in_scope("legal", "hour"))
    clock.now += 3600
    c = env.encrypt("acme", wrapper, _doc("c"), b"c", hour)
    headers = [parse_header(ct) for ct in (a, b, c)]
    assert len({h.tk_id for h in headers}) == 3
    bound = [{k: v for k, v in h.context.pairs if k in ("scope", "period")} for h in headers]
    assert bound == [
        {"scope": "default", "period": "2026-12-03T10"},
        {"scope": "legal", "period": "2026-12-03T10"},
        {"scope": "default", "period": "2026-12-03T11"},
    ]
    assert wrapper.calls == {"GenerateDataKey": 3, "Encrypt": 3}
    for ct, name, plain in ((a, "a", b"a"), (b, "legal/b", b"b"), (c, "c", b"c")):
        assert Envelope(store).decrypt("acme", wrapper, _doc(name), ct, CUSTOMER) == plain


def test_a_header_whose_scope_is_not_its_keys_is_refused() -> None:
    key = TenantKey("acme", "tk_1", b"k" * 32, bound={"scope": "legal", "period": "2026-12"})
    forged = encrypt_bytes(b"x", key, _doc("d").extended({"scope": "hr", "period": "2026-12"}))
    with pytest.raises(IntegrityError):
        decrypt_bytes(forged, key, _doc("d"))
    honest = encrypt_bytes(b"x", key, _doc("d").extended(key.bound))
    assert decrypt_bytes(honest, key, _doc("d")) == b"x"
    written_before_scopes = encrypt_bytes(b"x", key, _doc("d"))
    assert decrypt_bytes(written_before_scopes, key, _doc("d")) == b"x"


def test_a_denied_scope_refuses_only_that_scope_and_purges_nothing_else() -> None:
    env, wrapper, store, _ = _world()
    notes = env.encrypt("acme", wrapper, _doc("notes"), b"n", CUSTOMER)
    legal = env.encrypt("acme", wrapper, _doc("legal/x"), b"l", LEGAL)
    wrapper.deny_context("byok:scope", "legal")
    cached = len(env.cache)
    reader = Envelope(store)
    with pytest.raises(UseRefused) as refused:
        reader.decrypt("acme", wrapper, _doc("legal/x"), legal, CUSTOMER)
    assert refused.value.refused == {"scope": "legal"} and refused.value.tenant == "acme"
    assert reader.decrypt("acme", wrapper, _doc("notes"), notes, CUSTOMER) == b"n"
    with pytest.raises(UseRefused):  # new writes in the scope too
        env.rotate("acme", wrapper, LEGAL)
    assert len(env.cache) == cached  # the writer's other keys stay cached
    assert env.encrypt("acme", wrapper, _doc("more"), b"m", CUSTOMER)


def test_a_refusal_is_remembered_briefly_so_a_refused_scope_costs_no_kms_calls() -> None:
    env, wrapper, store, _ = _world()
    legal = env.encrypt("acme", wrapper, _doc("legal/x"), b"l", LEGAL)
    wrapper.deny_context("byok:scope", "legal")
    reader = Envelope(store)
    with pytest.raises(UseRefused):
        reader.decrypt("acme", wrapper, _doc("legal/x"), legal, CUSTOMER)
    calls = sum(wrapper.calls.values())
    for _ in range(20):
        with pytest.raises(UseRefused):
            reader.decrypt("acme", wrapper, _doc("legal/x"), legal, CUSTOMER)
    assert sum(wrapper.calls.values()) == calls


def test_a_whole_key_refusal_still_purges_the_tenant() -> None:
    env, wrapper, _, _ = _world()
    env.encrypt("acme", wrapper, _doc("a"), b"a", CUSTOMER)
    wrapper.revoke(lambda: KeyDisabled("disabled", tenant="acme"))
    with pytest.raises(KeyDisabled):
        env.rotate("acme", wrapper, CUSTOMER)
    assert len(env.cache) == 0


def test_reasons_have_their_own_copies_and_cache_entries() -> None:
    env, wrapper, store, _ = _world()
    ct = env.encrypt("acme", wrapper, _doc("d"), b"d", CUSTOMER)
    tk = parse_header(ct).tk_id
    assert store.copy("acme", tk, "customer-request") is not None
    assert store.copy("acme", tk, "vendor-support") is None  # rare: made at its first use
    reader = Envelope(store)
    assert reader.decrypt("acme", wrapper, _doc("d"), ct, SUPPORT) == b"d"
    assert store.copy("acme", tk, "vendor-support") is not None
    reader = Envelope(store)
    assert reader.decrypt("acme", wrapper, _doc("d"), ct, CUSTOMER) == b"d"
    wrapper.deny_context("byok:reason", "vendor-support")
    with pytest.raises(UseRefused) as refused:  # the customer-request key is cached: not used
        reader.decrypt("acme", wrapper, _doc("d"), ct, SUPPORT)
    assert refused.value.refused == {"reason": "vendor-support"}
    assert reader.decrypt("acme", wrapper, _doc("d"), ct, CUSTOMER) == b"d"


def test_a_copy_refused_at_creation_is_made_when_the_reason_is_allowed_again() -> None:
    env, wrapper, store, _ = _world()
    wrapper.deny_context("byok:reason", "vendor-support")
    ct = env.encrypt("acme", wrapper, _doc("d"), b"d", CUSTOMER)
    tk = parse_header(ct).tk_id
    assert store.copy("acme", tk, "vendor-support") is None
    with pytest.raises(UseRefused):  # a support write is refused at once
        env.encrypt("acme", wrapper, _doc("e"), b"e", SUPPORT)
    wrapper.deny_context("byok:reason", "vendor-support", denied=False)
    reader = Envelope(store)
    before = dict(wrapper.calls)
    assert reader.decrypt("acme", wrapper, _doc("d"), ct, SUPPORT) == b"d"
    assert wrapper.calls["Decrypt"] - before.get("Decrypt", 0) == 1  # the primary
    assert wrapper.calls["Encrypt"] - before["Encrypt"] == 1  # the new copy
    assert store.copy("acme", tk, "vendor-support") is not None


def test_vendor_support_needs_a_well_formed_ticket() -> None:
    for bad in ({"reason": "vendor-support"}, {"reason": "vendor-support", "ticket": "a b"},
                {"reason": "customer-request", "ticket": "T-1"}, {"reason": "because"},
                {"scope": "no spaces"}, {"period_unit": "week"}):  # fmt: skip
        with pytest.raises(InvalidInput):
            KeyUse(**bad)
    assert SUPPORT.audit_detail() == {"reason": "vendor-support", "scope": "default",
                                      "ticket": "SUP-1"}  # fmt: skip


def _probe(denied: dict[str, set[str]]) -> Any:
    def probe(context: dict[str, str]) -> None:
        if any(context.get(k) in values for k, values in denied.items()):
            raise KeyAccessDenied("denied")

    return probe


CONTEXT = {"byok:tenant": "acme", "byok:tk": "tk_1", "byok:scope": "legal",
           "byok:period": "2026-12", "byok:reason": "vendor-support"}  # fmt: skip


@pytest.mark.parametrize(
    ("denied", "expected"),
    [
        ({"byok:scope": {"legal"}}, {"scope": "legal"}),
        ({"byok:period": {"2026-12"}}, {"period": "2026-12"}),
        ({"byok:reason": {"vendor-support"}}, {"reason": "vendor-support"}),
        ({"byok:scope": {"legal"}, "byok:reason": {"vendor-support"}},
         {"scope": "legal", "reason": "vendor-support"}),
        ({"byok:tenant": {"acme"}}, None),  # the key refuses the tenant: a whole-key denial
    ],
)  # fmt: skip
def test_classify_names_exactly_the_refused_dimensions(
    denied: dict[str, set[str]], expected: dict[str, str] | None
) -> None:
    assert classify_refusal(CONTEXT, _probe(denied)) == expected


_NAMES = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(
    lambda k: k not in ("tenant", "document", "write")
)


@given(st.dictionaries(_NAMES, _NAMES, max_size=6), st.integers(0, 6))
def test_extending_a_context_equals_building_it_whole(pairs: dict[str, str], split: int) -> None:
    """``extended`` (the writer's fast path) encodes exactly as the constructor would."""
    items = sorted(pairs.items())
    first, rest = dict(items[:split]), dict(items[split:])
    base = BoundContext("acme", "doc", "w_1", first)
    assert base.extended(rest).encoded == BoundContext("acme", "doc", "w_1", pairs).encoded
