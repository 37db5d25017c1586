"""The public surface of byok.store, and documents over the S3 blob store."""

from __future__ import annotations

import secrets
import string
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import byok.store
from byok.errors import InvalidInput
from byok.store import DocumentRepository, Store, TenantRepository, fsck
from byok.store.document_types import (
    decode_cursor,
    encode_cursor,
    prefix_upper_bound,
    validate_document_name,
)
from byok.store.s3 import S3BlobStore


def test_dunder_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(byok.store).items()
        if not name.startswith("_") and not isinstance(value, type(byok)) and name != "annotations"
    }
    assert sorted(byok.store.__all__) == sorted(public)


def test_prefix_upper_bound_is_exact() -> None:
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("ab") == "ac"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"  # skips the surrogate block


@given(st.text(min_size=1, max_size=50))
def test_cursors_round_trip(name: str) -> None:
    """Every name the store accepts (after NFC normalisation) round-trips through a cursor;
    a name it refuses (controls, bidi, non-NFC forms normalise first) never makes a cursor."""
    try:
        valid = validate_document_name(name)
    except InvalidInput:
        return
    assert decode_cursor(encode_cursor(valid)) == valid


NAME_ALPHABET = st.sampled_from([*"ab/é日", "\U0010ffff", "\ue000", "\ud7ff", "Z", "0"])
NAMES = st.lists(st.text(NAME_ALPHABET, min_size=1, max_size=4), min_size=0, max_size=12)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(names=NAMES, prefix=st.text(NAME_ALPHABET, max_size=3), limit=st.integers(1, 4))
def test_list_matches_a_python_model(
    store: Store,
    tmp_path_factory: pytest.TempPathFactory,
    names: list[str],
    prefix: str,
    limit: int,
) -> None:
    """Listing with any prefix and page size equals filtering and sorting in Python."""
    tenant = "t" + secrets.token_hex(6)  # a fresh tenant per example: no cleanup needed
    TenantRepository(store).create(tenant, name=tenant, external_id=f"byok-{tenant}")
    blobs = byok.store.FilesystemBlobStore(tmp_path_factory.mktemp("blobs"))
    docs = DocumentRepository(store, blobs)
    for name in set(names):
        docs.put(tenant, name, b"")
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = docs.list(tenant, prefix=prefix, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen += [head.name for head in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == sorted(n for n in set(names) if n.startswith(prefix))


@pytest.mark.localaws
def test_documents_over_s3(s3_blobs: S3BlobStore, store: Store) -> None:
    blobs = s3_blobs
    TenantRepository(store).create("acme", name="Acme", external_id="byok-s3-acme")
    docs = DocumentRepository(store, blobs)
    body = string.ascii_letters.encode() * 300_000  # 15.6 MB: a multipart upload
    first = docs.put("acme", "big", iter([body[:7], body[7:]]))
    docs.put("acme", "big", b"small now")
    with docs.get("acme", "big") as reader:
        assert reader.read() == b"small now"
    assert first.size == len(body)
    orphan = blobs.put(b"orphan", prefix="acme/")
    report = fsck(store, blobs, grace=timedelta(0), repair=True, deep=True)
    assert report.orphan_blobs == (orphan.key,)
    assert report.removed_orphans == 1
    assert fsck(store, blobs, grace=timedelta(0), deep=True).clean
    docs.delete("acme", "big")
    assert list(blobs.list()) == []
