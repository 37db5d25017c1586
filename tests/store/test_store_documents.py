"""Documents at the storage level: put / get / head / list / delete, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator

import pytest

from byok.core.tenant_config import TenantKeyConfig
from byok.errors import Conflict, InvalidInput, NotFound, StateError, StorageError
from byok.store import (
    DocumentRepository,
    FilesystemBlobStore,
    SqlTenantKeyStore,
    Store,
    TenantRepository,
    TenantState,
)

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture
def docs(
    store: Store, tenants: TenantRepository, filesystem_blobs: FilesystemBlobStore
) -> DocumentRepository:
    for tenant in ("acme", "globex"):
        tenants.create(tenant, name=tenant, external_id=f"byok-{secrets.token_hex(8)}")
    return DocumentRepository(store, filesystem_blobs)


def _body(docs: DocumentRepository, tenant: str, name: str) -> bytes:
    with docs.get(tenant, name) as reader:
        return reader.read()


def _blob_count(docs: DocumentRepository, tenant: str = "acme") -> int:
    return len(list(docs.blobs.list(f"{tenant}/")))


def test_put_get_head(docs: DocumentRepository) -> None:
    head = docs.put("acme", "reports/q1.pdf", b"ciphertext-1")
    assert (head.tenant, head.name, head.size) == ("acme", "reports/q1.pdf", 12)
    assert head.sha256 == hashlib.sha256(b"ciphertext-1").hexdigest()
    assert docs.head("acme", "reports/q1.pdf") == head
    with docs.get("acme", "reports/q1.pdf") as reader:
        assert reader.head == head
        assert reader.read(4) + reader.read() == b"ciphertext-1"


def test_large_document_streams(docs: DocumentRepository) -> None:
    def chunks() -> Iterator[bytes]:
        for index in range(40):
            yield bytes([index]) * 100_000

    head = docs.put("acme", "big.bin", chunks())
    assert head.size == 4_000_000
    digest = hashlib.sha256()
    with docs.get("acme", "big.bin") as reader:
        while chunk := reader.read(65536):
            digest.update(chunk)
    assert digest.hexdigest() == head.sha256


def test_replace_keeps_one_version_and_one_blob(docs: DocumentRepository) -> None:
    first = docs.put("acme", "a", b"one")
    second = docs.put("acme", "a", b"two")
    assert second.generation > first.generation
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at
    assert _body(docs, "acme", "a") == b"two"
    assert _blob_count(docs) == 1


def test_delete(docs: DocumentRepository) -> None:
    put = docs.put("acme", "a", b"one")
    deleted = docs.delete("acme", "a")
    assert deleted.generation == put.generation
    with pytest.raises(NotFound):
        docs.head("acme", "a")
    with pytest.raises(NotFound):
        docs.get("acme", "a")
    with pytest.raises(NotFound):
        docs.delete("acme", "a")
    assert _blob_count(docs) == 0
    again = docs.put("acme", "a", b"back")
    assert again.generation > put.generation  # generations never repeat


def test_tenants_never_see_each_other(docs: DocumentRepository) -> None:
    docs.put("acme", "shared-name", b"acme's")
    for call in (docs.head, docs.get, docs.delete):
        with pytest.raises(NotFound) as caught:
            call("globex", "shared-name")
        assert "acme" not in str(caught.value)
    assert docs.list("globex").items == ()
    docs.put("globex", "shared-name", b"globex's")
    assert _body(docs, "acme", "shared-name") == b"acme's"
    assert _body(docs, "globex", "shared-name") == b"globex's"


def test_unknown_and_offboarded_tenants(
    docs: DocumentRepository, tenants: TenantRepository
) -> None:
    with pytest.raises(NotFound):
        docs.put("nobody", "a", b"x")
    tenants.transition("globex", TenantState.OFFBOARDED)
    with pytest.raises(StateError):
        docs.put("globex", "a", b"x")
    assert _blob_count(docs, "nobody") == 0
    assert _blob_count(docs, "globex") == 0


def test_tk_id_must_be_the_tenants(
    docs: DocumentRepository, store: Store, tenants: TenantRepository
) -> None:
    tenants.submit_config(TenantKeyConfig(tenant="acme", mode="direct", key_arn=KEY_ARN))
    SqlTenantKeyStore(store).add(
        "acme", "tk-1", key_arn=KEY_ARN, key_config_version=1, wrapped=b"w"
    )
    assert docs.put("acme", "a", b"x", tk_id="tk-1").tk_id == "tk-1"
    with pytest.raises(NotFound):
        docs.put("globex", "a", b"x", tk_id="tk-1")
    with pytest.raises(NotFound):
        docs.put("acme", "b", b"x", tk_id="tk-404")
    assert _blob_count(docs, "globex") == 0
    assert _blob_count(docs) == 1


def test_conditional_writes(docs: DocumentRepository) -> None:
    first = docs.put("acme", "a", b"one", if_generation=0)
    with pytest.raises(Conflict):
        docs.put("acme", "a", b"two", if_generation=0)
    with pytest.raises(Conflict):
        docs.put("acme", "a", b"two", if_generation=first.generation + 1000)
    with pytest.raises(Conflict):
        docs.put("acme", "new", b"two", if_generation=first.generation)
    second = docs.put("acme", "a", b"two", if_generation=first.generation)
    with pytest.raises(Conflict):
        docs.delete("acme", "a", if_generation=first.generation)
    docs.delete("acme", "a", if_generation=second.generation)
    assert _blob_count(docs) == 0  # every refused put removed its blob


@pytest.mark.parametrize("name", ["", "x" * 1025, "tab\there", "nul\x00", "del\x7f", "\udc80"])
def test_malformed_names(docs: DocumentRepository, name: str) -> None:
    with pytest.raises(InvalidInput):
        docs.put("acme", name, b"x")
    with pytest.raises(InvalidInput):
        docs.head("acme", name)


def test_list_pages_by_prefix_in_code_point_order(docs: DocumentRepository) -> None:
    names = ["a", "a/1", "a/2", "a/10", "a0", "b", "é", "éa", "日本", "日本/x", "\U0010ffff", "Z"]
    for name in names:
        docs.put("acme", name, name.encode())
    docs.put("globex", "a/1", b"other tenant")
    assert _all(docs, "") == sorted(names)
    assert _all(docs, "a/") == ["a/1", "a/10", "a/2"]
    assert _all(docs, "a") == ["a", "a/1", "a/10", "a/2", "a0"]
    assert _all(docs, "日本") == ["日本", "日本/x"]
    assert _all(docs, "\U0010ffff") == ["\U0010ffff"]
    assert _all(docs, "zz") == []
    page = docs.list("acme", limit=3)
    assert [h.name for h in page.items] == sorted(names)[:3]
    assert page.next_cursor is not None
    assert docs.list("acme", limit=len(names)).next_cursor is None


def _all(docs: DocumentRepository, prefix: str) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = docs.list("acme", prefix=prefix, limit=2, cursor=cursor)
        seen += [h.name for h in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_list_refuses_bad_arguments(docs: DocumentRepository) -> None:
    for bad in ("not-a-cursor", "", "Ynlvay1saXN0LXYxOg=="):  # the last decodes to an empty name
        with pytest.raises(InvalidInput):
            docs.list("acme", cursor=bad)
    for limit in (0, 1001):
        with pytest.raises(InvalidInput):
            docs.list("acme", limit=limit)


def test_concurrent_puts_last_commit_wins(docs: DocumentRepository) -> None:
    docs.put("acme", "hot", b"initial")
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(worker: int) -> None:
        try:
            for round_ in range(5):
                body = f"worker {worker} round {round_}".encode() * 50
                head = docs.put("acme", "hot", body)
                with lock:
                    results[head.generation] = body
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 40  # every put committed, each with its own generation
    winner = max(results)
    assert docs.head("acme", "hot").generation == winner
    assert _body(docs, "acme", "hot") == results[winner]
    assert _blob_count(docs) == 1  # every loser's blob was cleaned up
    assert [h.name for h in docs.list("acme").items] == ["hot"]


def test_concurrent_first_puts_to_a_new_name(docs: DocumentRepository) -> None:
    barrier = threading.Barrier(6)
    generations: list[int] = []

    def writer(worker: int) -> None:
        barrier.wait()
        generations.append(docs.put("acme", "fresh", f"w{worker}".encode()).generation)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(generations) == 6
    assert docs.head("acme", "fresh").generation == max(generations)
    assert _blob_count(docs) == 1


def test_get_survives_a_concurrent_replace(docs: DocumentRepository) -> None:
    docs.put("acme", "a", b"old")
    real_open = docs.blobs.open
    calls = 0

    def open_after_replace(key: str):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:  # the row was read; now a writer replaces it before the blob opens
            docs.put("acme", "a", b"new")
        return real_open(key)

    docs.blobs.open = open_after_replace  # type: ignore[method-assign]
    assert _body(docs, "acme", "a") == b"new"
    assert calls == 2


def test_a_missing_blob_is_a_storage_error(docs: DocumentRepository) -> None:
    head = docs.put("acme", "a", b"x")
    for entry in docs.blobs.list("acme/"):
        docs.blobs.delete(entry.key)
    with pytest.raises(StorageError) as caught:
        docs.get("acme", "a")
    assert "fsck" in caught.value.message
    assert docs.head("acme", "a") == head


class Boom(Exception):
    pass


def test_a_failed_put_changes_nothing(docs: DocumentRepository) -> None:
    docs.put("acme", "a", b"old")

    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise Boom

    with pytest.raises(Boom):
        docs.put("acme", "a", failing())
    assert _body(docs, "acme", "a") == b"old"
    assert _blob_count(docs) == 1
