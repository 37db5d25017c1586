"""Envelope: KMS call economy, rotation, revocation, audit events, tenant isolation."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from byok.core.context import (
    PERIOD_CONTEXT_KEY,
    REASON_CONTEXT_KEY,
    SCOPE_CONTEXT_KEY,
    TENANT_CONTEXT_KEY,
    TK_CONTEXT_KEY,
    canonical_context,
)
from byok.core.envelope import Envelope, KeyEvent
from byok.core.format import parse_header
from byok.core.keycache import TenantKeyCache
from byok.core.keywrap import KeyWrapper
from byok.core.memory_wrapper import MemoryKeyWrapper
from byok.core.tenant_keys import (
    MemoryTenantKeyStore,
    RotationPolicy,
    TenantKeyStore,
    WrappedTenantKey,
)
from byok.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    KeyAccessDenied,
    KeyDisabled,
    KmsThrottled,
)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class World:
    """An Envelope wired to in-memory parts and one fake clock for everything."""

    def __init__(self, ttl_s: float = 300, rotation: RotationPolicy | None = None) -> None:
        self.clock = FakeClock()
        self.events: list[KeyEvent] = []
        self.store = MemoryTenantKeyStore()
        self.wrapper = MemoryKeyWrapper()
        self.cache = TenantKeyCache(ttl_s=ttl_s, clock=self.clock)
        self.env = Envelope(
            self.store,
            cache=self.cache,
            rotation=rotation,
            clock=self.clock,
            audit=self.events.append,
            frame_size=1024,
        )

    def roundtrip(self, tenant: str = "acme", doc: str = "d", data: bytes = b"hello") -> None:
        ct = self.env.encrypt(tenant, self.wrapper, doc, data)
        assert self.env.decrypt(tenant, self.wrapper, doc, ct) == data


def test_wrapper_and_store_satisfy_their_protocols() -> None:
    assert isinstance(MemoryKeyWrapper(), KeyWrapper)
    assert isinstance(MemoryTenantKeyStore(), TenantKeyStore)


def test_one_generate_data_key_for_many_documents() -> None:
    w = World()
    for i in range(200):
        w.roundtrip(doc=f"doc-{i}")
    # One TK: its primary copy (vendor-service) and its customer-request copy.
    assert w.wrapper.calls == {"GenerateDataKey": 1, "Encrypt": 1}
    assert [e.operation for e in w.events] == ["kms:GenerateDataKey", "kms:Encrypt"]


def test_tenant_key_context_names_tenant_and_tk() -> None:
    seen: list[Mapping[str, str]] = []
    inner = MemoryKeyWrapper()

    class Spy(MemoryKeyWrapper):
        def generate_data_key(self, context: Mapping[str, str]):  # type: ignore[no-untyped-def]
            seen.append(dict(context))
            return inner.generate_data_key(context)

    env = Envelope(MemoryTenantKeyStore())
    ct = env.encrypt("acme", Spy(inner.key_arn), "d", b"x")
    tk_id = parse_header(ct).tk_id
    period = time.strftime("%Y-%m", time.gmtime())
    assert seen == [
        {TENANT_CONTEXT_KEY: "acme", TK_CONTEXT_KEY: tk_id, SCOPE_CONTEXT_KEY: "default",
         PERIOD_CONTEXT_KEY: period, REASON_CONTEXT_KEY: "vendor-service"}
    ]  # fmt: skip
    assert TENANT_CONTEXT_KEY == "byok:tenant" and tk_id.startswith("tk_") and len(tk_id) == 35


def test_one_unwrap_per_tk_per_ttl_in_a_new_process() -> None:
    w = World(ttl_s=60)
    cts = [w.env.encrypt("acme", w.wrapper, f"d{i}", b"x") for i in range(5)]
    other_process = Envelope(w.store, cache=TenantKeyCache(ttl_s=60, clock=w.clock), clock=w.clock)
    for i, ct in enumerate(cts * 3):
        assert other_process.decrypt("acme", w.wrapper, f"d{i % 5}", ct) == b"x"
    assert w.wrapper.calls == {"GenerateDataKey": 1, "Encrypt": 1, "Decrypt": 1}
    w.clock.advance(60)  # the revocation bound: back to KMS
    other_process.decrypt("acme", w.wrapper, "d0", cts[0])
    assert w.wrapper.calls["Decrypt"] == 2


def test_encrypt_after_ttl_reuses_the_stored_tk() -> None:
    w = World(ttl_s=10)
    first = parse_header(w.env.encrypt("acme", w.wrapper, "a", b"x")).tk_id
    w.clock.advance(11)
    second = parse_header(w.env.encrypt("acme", w.wrapper, "b", b"x")).tk_id
    assert first == second
    assert w.wrapper.calls == {"GenerateDataKey": 1, "Encrypt": 1, "Decrypt": 1}


def test_revocation_takes_effect_within_the_ttl_and_purges() -> None:
    w = World(ttl_s=30)
    ct = w.env.encrypt("acme", w.wrapper, "d", b"secret")
    beta = MemoryKeyWrapper("arn:aws:kms:us-east-1:444455556666:key/beta")
    w.env.encrypt("beta", beta, "d", b"other tenant")
    w.wrapper.revoke(lambda: KeyDisabled("key disabled", tenant="acme"))
    assert w.env.decrypt("acme", w.wrapper, "d", ct) == b"secret"  # within the bound
    w.clock.advance(30)
    w.env.encrypt("beta", beta, "x", b"beta data")  # another tenant is unaffected
    with pytest.raises(KeyDisabled):
        w.env.decrypt("acme", w.wrapper, "d", ct)
    with pytest.raises(KeyDisabled):
        w.env.encrypt("acme", w.wrapper, "d2", b"new")
    outcomes = [(e.operation, e.outcome) for e in w.events if e.tenant == "acme"]
    assert ("kms:Decrypt", "KeyDisabled") in outcomes
    assert ("cache:purge", "KeyDisabled") in outcomes
    w.wrapper.revoke(None)  # access restored: works again
    assert w.env.decrypt("acme", w.wrapper, "d", ct) == b"secret"


def test_customer_access_error_purges_cached_keys_at_once() -> None:
    w = World()
    ct_old = w.env.encrypt("acme", w.wrapper, "d", b"x")
    w.env.rotate("acme", w.wrapper)
    w.env.encrypt("acme", w.wrapper, "d2", b"x")
    assert len(w.cache) == 2 * 2  # two TKs, each cached for the two reasons it was proved for
    w.wrapper.revoke(lambda: KeyAccessDenied("denied", tenant="acme"))
    with pytest.raises(KeyAccessDenied):
        w.env.rotate("acme", w.wrapper)  # any refused call purges the tenant
    assert len(w.cache) == 0
    with pytest.raises(KeyAccessDenied):
        w.env.decrypt("acme", w.wrapper, "d", ct_old)


def test_transient_errors_do_not_purge() -> None:
    w = World()
    w.roundtrip()

    class Throttled(MemoryKeyWrapper):
        def generate_data_key(self, context: Mapping[str, str]):  # type: ignore[no-untyped-def]
            raise KmsThrottled("slow down", tenant="acme")

    with pytest.raises(KmsThrottled):
        w.env.rotate("acme", Throttled(w.wrapper.key_arn))
    assert len(w.cache) == 2  # the TK, for the two reasons it was proved for
    assert w.events[-1].outcome == "KmsThrottled"


def test_rotation_by_document_count() -> None:
    w = World(rotation=RotationPolicy(max_documents=3))
    ids = [parse_header(w.env.encrypt("acme", w.wrapper, f"d{i}", b"x")).tk_id for i in range(7)]
    assert len(set(ids[:3])) == 1 and len(set(ids[3:6])) == 1 and ids[0] != ids[3] != ids[6]
    assert w.wrapper.calls == {"GenerateDataKey": 3, "Encrypt": 3}
    assert len(w.store.all("acme")) == 3


def test_rotation_by_age_keeps_old_keys_readable() -> None:
    w = World(ttl_s=3600, rotation=RotationPolicy(max_age_s=86400))
    old = w.env.encrypt("acme", w.wrapper, "old", b"old data")
    w.clock.advance(86400)
    new = w.env.encrypt("acme", w.wrapper, "new", b"new data")
    assert parse_header(old).tk_id != parse_header(new).tk_id
    assert w.env.decrypt("acme", w.wrapper, "old", old) == b"old data"
    assert w.wrapper.calls["GenerateDataKey"] == 2


def test_rotation_policy_validates() -> None:
    with pytest.raises(InvalidInput):
        RotationPolicy(max_age_s=0)
    with pytest.raises(InvalidInput):
        RotationPolicy(max_documents=0)


def test_new_cmk_for_tenant_makes_a_new_tk_under_it() -> None:
    w = World()
    w.roundtrip()
    moved = MemoryKeyWrapper("arn:aws:kms:us-east-1:111122223333:key/new")
    ct = w.env.encrypt("acme", moved, "d", b"x")
    assert w.store.current("acme") is not None
    assert w.store.current("acme").key_arn == moved.key_arn  # type: ignore[union-attr]
    assert moved.calls == {"GenerateDataKey": 1, "Encrypt": 1}
    assert w.env.decrypt("acme", moved, "d", ct) == b"x"


def test_tenants_are_isolated() -> None:
    w = World()
    ct = w.env.encrypt("acme", w.wrapper, "d", b"acme data")
    with pytest.raises(IntegrityError):
        w.env.decrypt("evil", w.wrapper, "d", ct)
    # even a header rewritten to name the other tenant cannot select acme's key
    w.env.encrypt("evil", w.wrapper, "e", b"evil data")
    forged = bytearray(ct)
    forged[12:16] = b"evil"
    with pytest.raises(IntegrityError):
        w.env.decrypt("evil", w.wrapper, "d", forged)


def test_unknown_tk_id_is_integrity_error_without_kms_call() -> None:
    w = World()
    ct = bytearray(w.env.encrypt("acme", w.wrapper, "d", b"x"))
    h = parse_header(ct)
    at = 10 + 2 + 4 + 2 + 1 + 2
    ct[at : at + len(h.tk_id)] = b"tk_" + b"0" * 32
    fresh = Envelope(w.store)
    with pytest.raises(IntegrityError):
        fresh.decrypt("acme", w.wrapper, "d", ct)
    assert "Decrypt" not in w.wrapper.calls


def test_wrapped_tk_moved_between_tenants_fails_to_unwrap() -> None:
    w = World()
    w.roundtrip("acme")
    stolen = w.store.current("acme")
    assert stolen is not None
    store = MemoryTenantKeyStore()
    context = {**(stolen.context or {}), TENANT_CONTEXT_KEY: "evil"}
    store.add(
        WrappedTenantKey("evil", stolen.tk_id, stolen.key_arn, stolen.wrapped, w.clock.now,
                         context=context)
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        Envelope(store, clock=w.clock).encrypt("evil", w.wrapper, "d", b"x")


def test_store_refuses_duplicate_keys() -> None:
    store = MemoryTenantKeyStore()
    k = WrappedTenantKey("acme", "tk_1", "arn", b"w", 0.0)
    store.add(k)
    with pytest.raises(Conflict):
        store.add(k)
    assert "w'" not in repr(k)


def test_streaming_apis_through_the_envelope() -> None:
    w = World()
    data = os.urandom(5000)
    sink = io.BytesIO()
    assert w.env.encrypt_stream("acme", w.wrapper, "s", io.BytesIO(data), sink) == 5000
    out = io.BytesIO()
    assert w.env.decrypt_stream("acme", w.wrapper, "s", io.BytesIO(sink.getvalue()), out) == 5000
    assert out.getvalue() == data
    chunks = w.env.iter_encrypt("acme", w.wrapper, "s", [data])
    assert b"".join(w.env.iter_decrypt("acme", w.wrapper, "s", chunks)) == data


def test_audit_events_never_carry_key_bytes() -> None:
    w = World(ttl_s=1)
    ct = w.env.encrypt("acme", w.wrapper, "d", b"x")
    w.clock.advance(2)
    w.env.decrypt("acme", w.wrapper, "d", ct)
    key = w.env.cache.get("acme", parse_header(ct).tk_id, w.wrapper.key_arn, "vendor-service")
    assert key is not None
    assert [(e.operation, e.outcome) for e in w.events] == [
        ("kms:GenerateDataKey", "ok"),
        ("kms:Encrypt", "ok"),
        ("kms:Decrypt", "ok"),
    ]
    assert all(e.request_id and e.request_id.startswith("mem-") for e in w.events)
    text = repr(w.events) + repr(w.env.cache) + repr(key)
    assert key.material.hex() not in text and repr(key.material) not in text


def test_concurrent_cold_start_makes_one_kms_call() -> None:
    w = World()
    ct = w.env.encrypt("acme", w.wrapper, "d", b"x")
    cold = Envelope(w.store)
    barrier = threading.Barrier(8)
    results: list[bytes] = []

    def read() -> None:
        barrier.wait()
        results.append(bytes(cold.decrypt("acme", w.wrapper, "d", ct)))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"x"] * 8
    assert w.wrapper.calls == {"GenerateDataKey": 1, "Encrypt": 1, "Decrypt": 1}


def test_memory_wrapper_binds_context_and_arn() -> None:
    wrapper = MemoryKeyWrapper()
    dk = wrapper.generate_data_key({"byok:tenant": "a", "byok:tk": "t"})
    assert (
        wrapper.unwrap(dk.wrapped, {"byok:tk": "t", "byok:tenant": "a"}).plaintext == dk.plaintext
    )
    for ctx in ({"byok:tenant": "b", "byok:tk": "t"}, {"byok:tenant": "a"}):
        with pytest.raises(IntegrityError):
            wrapper.unwrap(dk.wrapped, ctx)
    with pytest.raises(IntegrityError):
        MemoryKeyWrapper().unwrap(dk.wrapped, {"byok:tenant": "a", "byok:tk": "t"})
    dest = MemoryKeyWrapper("arn:aws:kms:us-east-1:111122223333:key/dest")
    moved = wrapper.rewrap(dk.wrapped, {"byok:tenant": "a", "byok:tk": "t"}, dest)
    assert moved.plaintext == b"" and moved.key_arn == dest.key_arn
    assert (
        dest.unwrap(moved.wrapped, {"byok:tenant": "a", "byok:tk": "t"}).plaintext == dk.plaintext
    )
    assert dk.plaintext.hex() not in repr(dk)


def test_canonical_context_is_order_independent_and_bounded() -> None:
    a = canonical_context({"x": "1", "y": "2"})
    assert a == canonical_context({"y": "2", "x": "1"})
    assert a != canonical_context({"x": "12"})
    with pytest.raises(InvalidInput):
        canonical_context({"": "v"})
    with pytest.raises(InvalidInput):
        canonical_context({str(i): "v" for i in range(65)})


def test_rotation_count_is_exact_under_concurrency() -> None:
    w = World(rotation=RotationPolicy(max_documents=50))
    tk_ids: list[str] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        for i in range(100):
            ct = w.env.encrypt("acme", w.wrapper, f"d{n}-{i}", b"x")
            with lock:
                tk_ids.append(parse_header(ct).tk_id)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uses = {tk: tk_ids.count(tk) for tk in set(tk_ids)}
    assert max(uses.values()) <= 50
    assert len(uses) == w.wrapper.calls["GenerateDataKey"] == 16


@pytest.mark.parametrize(
    "module",
    [
        "byok.core.context",
        "byok.core.envelope",
        "byok.core.format",
        "byok.core.keycache",
        "byok.core.memory_wrapper",
        "byok.core.raw_keys",
        "byok.core.sources",
        "byok.core.stream",
        "byok.core.tenant_keys",
    ],
)
def test_all_lists_exactly_the_public_names(module: str) -> None:
    """httpx-style: ``__all__`` names every public name the module defines at top level."""
    import ast
    import importlib

    mod = importlib.import_module(module)
    assert mod.__file__ is not None
    tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
    public = {name for name in defined if not name.startswith("_")}
    assert public <= set(mod.__all__)  # may also re-export (stream re-exports Source ...)
    assert all(hasattr(mod, name) for name in mod.__all__)
