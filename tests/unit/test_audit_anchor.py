"""The tenant audit head and the customer's check of an export against anchored heads (pure).

The adversary here is the vendor (or whoever can write its database): it may edit one event,
recompute the whole chain so that ``byok audit verify`` passes, delete or insert events, or
hand over a truncated export. Every such export must fail against the anchored heads.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byok.core.audit_anchor import (
    Anchor,
    anchor_context,
    anchor_from_context,
    check_export,
    fold_tenant_head,
)
from byok.core.audit_chain import GENESIS_HASH, AuditEvent, chain_hash

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _events(n: int, tenants: tuple[str, ...] = ("acme", "globex")) -> list[AuditEvent]:
    return [
        AuditEvent(
            seq=i + 1, time=T0 + timedelta(seconds=i), actor="service",
            tenant=tenants[i % len(tenants)], operation="document:get", outcome="ok",
            document=f"d{i}", bytes=i,
        )
        for i in range(n)
    ]  # fmt: skip


def _chain(events: list[AuditEvent]) -> list[tuple[AuditEvent, str, str]]:
    """The vendor-wide chain: (event, prev_hash, hash) in order."""
    out, previous = [], GENESIS_HASH
    for event in events:
        digest = chain_hash(previous, event)
        out.append((event, previous, digest))
        previous = digest
    return out


def _export(chained: list[tuple[AuditEvent, str, str]], tenant: str) -> list[str]:
    return [
        json.dumps(e.to_dict() | {"prev_hash": p, "hash": h}, sort_keys=True)
        for e, p, h in chained
        if e.tenant == tenant
    ]


def _anchors(chained: list[tuple[AuditEvent, str, str]], tenant: str, at: set[int]) -> list[Anchor]:
    head, found = GENESIS_HASH, []
    for event, _, digest in chained:
        if event.tenant != tenant:
            continue
        head = fold_tenant_head(head, digest)
        if event.seq in at:
            found.append(Anchor(tenant, event.seq, head, request_id=f"req-{event.seq}"))
    return found


def test_an_honest_export_matches_every_anchor() -> None:
    chained = _chain(_events(20))
    anchors = _anchors(chained, "acme", {5, 11, 19})
    result = check_export(_export(chained, "acme"), anchors, "acme")
    assert result.ok and result.anchors_matched == 3
    assert result.events == 10 and result.unanchored_events == 0
    assert result.head == anchors[-1].head


def test_events_after_the_newest_anchor_are_reported_unanchored() -> None:
    chained = _chain(_events(20))
    result = check_export(_export(chained, "acme"), _anchors(chained, "acme", {7}), "acme")
    assert result.ok and result.unanchored_events == 6  # acme events 9, 11, ..., 19


def test_a_naive_edit_is_named_exactly() -> None:
    chained = _chain(_events(20))
    lines = _export(chained, "acme")
    data = json.loads(lines[3])
    data["outcome"] = "forged"
    lines[3] = json.dumps(data)
    result = check_export(lines, _anchors(chained, "acme", {19}), "acme")
    assert not result.ok and result.first_bad_seq == 7 and "edited" in (result.reason or "")


def test_a_rewrite_with_the_whole_chain_recomputed_is_caught_by_the_anchor() -> None:
    events = _events(20)
    honest = _chain(events)
    anchors = _anchors(honest, "acme", {5, 13})
    forged = list(events)
    forged[8] = dataclasses.replace(forged[8], outcome="forged")  # acme's event seq 9
    rewritten = _chain(forged)  # the vendor recomputed every hash: its own verify passes
    result = check_export(_export(rewritten, "acme"), anchors, "acme")
    assert not result.ok and result.anchors_matched == 1
    assert result.first_bad_seq == 7  # the first event after the last matching anchor (5)
    assert "rewritten" in (result.reason or "") and "req-13" in (result.reason or "")


def test_a_deleted_event_is_caught() -> None:
    events = _events(20)
    anchors = _anchors(_chain(events), "acme", {15})
    shortened = [e for e in events if e.seq != 9]
    renumbered = [dataclasses.replace(e, seq=i + 1) for i, e in enumerate(shortened)]
    result = check_export(_export(_chain(renumbered), "acme"), anchors, "acme")
    assert not result.ok


def test_a_truncated_export_is_caught_and_says_truncated() -> None:
    chained = _chain(_events(20))
    anchors = _anchors(chained, "acme", {5, 17})
    lines = _export(chained, "acme")[:6]  # ends at seq 11
    result = check_export(lines, anchors, "acme")
    assert not result.ok and result.first_bad_seq == 17
    assert "truncated" in (result.reason or "")


def test_an_anchored_event_missing_in_the_middle_is_named() -> None:
    chained = _chain(_events(20))
    anchors = _anchors(chained, "acme", {9, 15})
    lines = [line for line in _export(chained, "acme") if json.loads(line)["seq"] != 9]
    result = check_export(lines, anchors, "acme")
    assert not result.ok and result.first_bad_seq == 9 and "missing" in (result.reason or "")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda lines: [*lines[1:2], lines[0], *lines[2:]], "out of order"),
        (lambda lines: ["{not json", *lines], "cannot be read"),
        (lambda lines: ["[1, 2]", *lines], "not a JSON object"),
        (lambda lines: [json.dumps({"seq": 1}), *lines], "cannot be read"),
    ],
)
def test_malformed_exports_fail_with_a_reason(mutate: object, expected: str) -> None:
    chained = _chain(_events(10))
    lines = mutate(_export(chained, "acme"))  # type: ignore[operator]
    result = check_export(lines, _anchors(chained, "acme", {9}), "acme")
    assert not result.ok and expected in (result.reason or "")


def test_another_tenants_events_in_the_export_are_refused() -> None:
    chained = _chain(_events(10))
    lines = [json.dumps(e.to_dict() | {"prev_hash": p, "hash": h}) for e, p, h in chained]
    result = check_export(lines, [], "acme")
    assert not result.ok and "another tenant" in (result.reason or "")


def test_anchors_of_other_tenants_are_ignored() -> None:
    chained = _chain(_events(10))
    result = check_export(_export(chained, "acme"), _anchors(chained, "globex", {10}), "acme")
    assert result.ok and result.anchors_matched == 0


def test_anchor_context_round_trips_and_carries_the_tenant() -> None:
    head = fold_tenant_head(GENESIS_HASH, "ab" * 32)
    context = anchor_context("acme", 42, head)
    assert context["byok:tenant"] == "acme"
    anchor = anchor_from_context(context, request_id="r")
    assert anchor == Anchor("acme", 42, head, None, "r")
    for broken in (
        {**context, "byok:audit-seq": "x"},
        {**context, "byok:audit-head": "zz" * 32},
        {k: v for k, v in context.items() if k != "byok:tenant"},
        {**context, "byok:audit-head": "ab"},
    ):
        assert anchor_from_context(broken) is None


def test_fold_refuses_what_is_not_a_sha256() -> None:
    with pytest.raises(ValueError):
        fold_tenant_head(GENESIS_HASH, "abcd")


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=4, max_value=30),
    victim=st.integers(min_value=0, max_value=29),
    field=st.sampled_from(["outcome", "document", "bytes", "actor"]),
)
def test_any_rewrite_before_an_anchor_is_caught(n: int, victim: int, field: str) -> None:
    events = _events(n, tenants=("acme",))
    victim %= n
    anchors = _anchors(_chain(events), "acme", {n})  # anchor at the last event
    value: object = 999_999 if field == "bytes" else "forged"
    forged = list(events)
    forged[victim] = dataclasses.replace(forged[victim], **{field: value})
    result = check_export(_export(_chain(forged), "acme"), anchors, "acme")
    assert not result.ok
