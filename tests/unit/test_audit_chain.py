"""The audit hash chain detects every edit, deletion, insertion and reordering."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from byok.core.audit_chain import (
    GENESIS_HASH,
    AuditEvent,
    canonical_event,
    chain_hash,
    verify_chain,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def _events(n: int) -> list[AuditEvent]:
    return [
        AuditEvent(
            seq=i + 1,
            time=T0 + timedelta(seconds=i),
            actor="service",
            tenant="acme",
            operation="document:put",
            outcome="ok",
            document=f"doc-{i}",
            tk_id="tk-1",
            kms_request_id=None,
            bytes=i * 10,
        )
        for i in range(n)
    ]


def _chain(events: list[AuditEvent]) -> list[tuple[AuditEvent, str]]:
    out, prev = [], GENESIS_HASH
    for event in events:
        prev = chain_hash(prev, event)
        out.append((event, prev))
    return out


def test_canonical_encoding_is_stable_and_sorted() -> None:
    event = _events(1)[0]
    encoded = canonical_event(event)
    assert encoded.startswith(b'{"actor":"service","bytes":0,')
    assert b'"time":"2026-01-02T03:04:05.123456Z"' in encoded
    # Independent recomputation of the documented construction.
    expected = hashlib.sha256(b"byok-audit-v1" + bytes(32) + encoded).hexdigest()
    assert chain_hash(GENESIS_HASH, event) == expected
    # Known answer: changing the encoding is a format change of the audit log.
    assert expected == "80decf0ab8c7941dadaac2bf5f5c55b7779fc3ed7a593057fa8735173646edba"


def test_intact_chain_verifies() -> None:
    chained = _chain(_events(20))
    result = verify_chain(chained)
    assert result.ok and result.events == 20
    assert result.head_hash == chained[-1][1]


def test_naive_time_is_refused() -> None:
    event = replace(_events(1)[0], time=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_event(event)


@given(st.integers(min_value=0, max_value=9), st.sampled_from(["outcome", "bytes", "document"]))
def test_any_edit_is_detected_at_that_event(index: int, field_name: str) -> None:
    chained = _chain(_events(10))
    event, stored = chained[index]
    edited = replace(event, **{field_name: "tampered" if field_name != "bytes" else 999999})
    chained[index] = (edited, stored)
    result = verify_chain(chained)
    assert not result.ok
    assert result.first_bad_seq == event.seq


@given(st.integers(min_value=0, max_value=8))
def test_deletion_is_detected(index: int) -> None:
    chained = _chain(_events(10))
    del chained[index]
    result = verify_chain(chained)
    assert not result.ok
    assert result.first_bad_seq == index + 2


@given(st.integers(min_value=0, max_value=8))
def test_swap_of_neighbours_is_detected(index: int) -> None:
    chained = _chain(_events(10))
    chained[index], chained[index + 1] = chained[index + 1], chained[index]
    assert not verify_chain(chained).ok


def test_rehashed_insertion_is_detected_by_sequence() -> None:
    events = _events(5)
    chained = _chain(events)
    forged = replace(events[2], document="forged")
    chained.insert(3, (forged, chain_hash(chained[2][1], forged)))
    result = verify_chain(chained)
    assert not result.ok
    assert result.reason is not None and "sequence" in result.reason


def test_verification_can_resume_from_an_anchor() -> None:
    chained = _chain(_events(10))
    anchor = chained[4][1]
    assert verify_chain(chained[5:], start_hash=anchor).ok
    assert not verify_chain(chained[5:]).ok
