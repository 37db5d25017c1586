"""Documents over the API: streaming up and down, head, list paging, delete, size limits,
integrity, and key unavailability answered as 503 with the customer's fix."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_world import ApiWorld, onboard

pytestmark = pytest.mark.localaws


def _chunks(total: int, size: int = 100_003) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        chunk = os.urandom(min(size, total - sent))
        sent += len(chunk)
        yield chunk


def test_streamed_upload_and_download_round_trip_byte_exact(api: ApiWorld) -> None:
    writer = api.as_role("acme", "writer")
    body = os.urandom(3 * 1024 * 1024 + 17)  # several frames, odd tail
    put = api.client.put("/v1/tenants/acme/documents/big/blob.bin", content=iter([body[:1000],
                         body[1000:]]), headers=writer)  # fmt: skip
    assert put.status_code == 200, put.text
    head = put.json()
    assert head["name"] == "big/blob.bin" and head["stored_size"] > len(body)
    with api.client.stream("GET", "/v1/tenants/acme/documents/big/blob.bin",
                           headers=api.as_role("acme", "reader")) as got:  # fmt: skip
        assert got.status_code == 200
        assert got.headers["etag"] == f'"{head["generation"]}"'
        digest = hashlib.sha256()
        for chunk in got.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(body).hexdigest()


def test_head_list_paging_and_delete(api: ApiWorld) -> None:
    writer = api.as_role("acme", "writer")
    names = [f"paged/{i:02d}.txt" for i in range(7)]
    for name in names:
        put = api.client.put(f"/v1/tenants/acme/documents/{name}", content=name.encode(),
                             headers=writer)  # fmt: skip
        assert put.status_code == 200
    seen: list[str] = []
    cursor = None
    while True:
        params = {"prefix": "paged/", "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.client.get("/v1/tenants/acme/documents", params=params, headers=writer).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names
    head = api.client.head("/v1/tenants/acme/documents/paged/03.txt", headers=writer)
    assert head.status_code == 200 and int(head.headers["x-byok-generation"]) > 0
    assert head.content == b""
    deleted = api.client.delete("/v1/tenants/acme/documents/paged/03.txt", headers=writer)
    assert deleted.status_code == 200 and deleted.json()["name"] == "paged/03.txt"
    gone = api.client.get("/v1/tenants/acme/documents/paged/03.txt", headers=writer)
    assert gone.status_code == 404 and gone.json()["error"] == "NotFound"
    assert api.client.head("/v1/tenants/acme/documents/paged/03.txt",
                           headers=writer).status_code == 404  # fmt: skip


def test_upload_over_the_limit_is_413_and_stores_nothing(api: ApiWorld) -> None:
    writer = api.as_role("acme", "writer")
    limit = api.client.app.state.max_body_bytes  # type: ignore[attr-defined]
    # Declared length: refused before anything is read.
    declared = api.client.put("/v1/tenants/acme/documents/huge/declared", headers=writer,
                              content=b"x" * (limit + 1))  # fmt: skip
    assert declared.status_code == 413
    assert declared.json()["error"] == "BodyTooLarge"
    # Streamed (chunked, no length): refused once the limit is passed, mid-stream.
    streamed = api.client.put("/v1/tenants/acme/documents/huge/streamed", headers=writer,
                              content=_chunks(limit + 200_000))  # fmt: skip
    assert streamed.status_code == 413
    for name in ("declared", "streamed"):
        missing = api.client.get(f"/v1/tenants/acme/documents/huge/{name}", headers=writer)
        assert missing.status_code == 404
    blobs = api.vendor.documents.blobs.root  # type: ignore[attr-defined]
    leftovers = [p for p in Path(blobs).rglob("*") if p.is_file() and ".tmp" in p.name]
    assert leftovers == []
    big_json = api.client.post("/v1/tenants", content=b"{" + b" " * 70_000 + b"}",
                               headers=api.auth(api.operator))  # fmt: skip
    assert big_json.status_code == 413


def test_invalid_input_names_the_field(api: ApiWorld) -> None:
    admin = api.as_role("acme", "tenant-admin")
    alias = api.client.post("/v1/tenants/acme/key-configs", headers=admin,
                            json={"mode": "direct", "key_arn": "alias/my-key"})  # fmt: skip
    assert alias.status_code == 422
    problem = alias.json()
    assert problem["field"] == "key_arn" and problem["fix"]
    assert problem["type"] == "urn:byok:error:InvalidInput"
    bad_limit = api.client.get("/v1/tenants/acme/documents", params={"limit": 0},
                               headers=admin)  # fmt: skip
    assert bad_limit.status_code == 422 and bad_limit.json()["field"] == "limit"


def _tamper(api: ApiWorld, name: str, offset: int) -> None:
    blob_key = api.vendor.documents._live("acme", name).blob_key
    path = api.vendor.documents.blobs._path(blob_key)  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_tampered_header_is_422_integrity_error(api: ApiWorld) -> None:
    writer = api.as_role("acme", "writer")
    api.client.put("/v1/tenants/acme/documents/tamper-head", content=b"abc" * 99, headers=writer)
    _tamper(api, "tamper-head", 12)
    got = api.client.get("/v1/tenants/acme/documents/tamper-head", headers=writer)
    assert got.status_code == 422
    assert got.json()["error"] == "IntegrityError"
    assert b"abc" not in got.content


def test_damaged_small_document_is_a_422_problem_not_a_broken_stream(api: ApiWorld) -> None:
    """Issue 17: a flipped byte in a 4 KiB document's body was a 200 and then an aborted
    stream; up to verify_before_send_bytes it is now verified before anything is sent."""
    writer = api.as_role("acme", "writer")
    api.client.put("/v1/tenants/acme/documents/tamper-tail", content=b"abc" * 1365, headers=writer)
    _tamper(api, "tamper-tail", -5)  # inside the final frame's tag; the header checks out
    got = api.client.get("/v1/tenants/acme/documents/tamper-tail", headers=writer)
    assert got.status_code == 422
    assert got.headers["content-type"] == "application/problem+json"
    assert got.json()["error"] == "IntegrityError"
    intact = api.client.put("/v1/tenants/acme/documents/intact", content=b"ok", headers=writer)
    assert intact.status_code == 200
    good = api.client.get("/v1/tenants/acme/documents/intact", headers=writer)
    assert good.content == b"ok" and good.headers["x-byok-integrity"] == "verified"


def test_damaged_large_document_is_cut_short_of_its_content_length(
    api: ApiWorld, caplog: pytest.LogCaptureFixture
) -> None:
    """Above the limit the body streams with its exact Content-Length; a frame that fails
    ends the response short of it, logged once as a warning without a traceback."""
    writer = api.as_role("acme", "writer")
    body = os.urandom(600 * 1024)  # three 256 KiB frames
    api.client.put("/v1/tenants/acme/documents/big-tail", content=body, headers=writer)
    state = api.client.app.state  # type: ignore[attr-defined]
    state.verify_before_send_bytes = 64 * 1024
    try:
        ok = api.client.get("/v1/tenants/acme/documents/big-tail", headers=writer)
        assert ok.content == body and ok.headers["x-byok-integrity"] == "streamed"
        assert ok.headers["content-length"] == str(len(body))
        _tamper(api, "big-tail", -5)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            cut = api.client.get("/v1/tenants/acme/documents/big-tail", headers=writer)
    finally:
        state.verify_before_send_bytes = 1024 * 1024
    assert cut.status_code == 200 and cut.headers["content-length"] == str(len(body))
    assert len(cut.content) < len(body) and cut.content == body[: len(cut.content)]
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert "tenant=acme" in records[0].getMessage() and "big-tail" in records[0].getMessage()


def test_revoked_key_is_503_with_the_customer_fix_and_recovers(api: ApiWorld) -> None:
    onboard(api, "umbrella")
    writer = api.as_role("umbrella", "writer")
    assert api.client.put("/v1/tenants/umbrella/documents/a", content=b"x",
                          headers=writer).status_code == 200  # fmt: skip
    customer = api.customers["umbrella"]
    customer.kms().disable_key(KeyId=customer.key_arn)
    api.vendor.check_key("umbrella")  # the key monitor's probe: purges the cache at once
    refused = api.client.get("/v1/tenants/umbrella/documents/a", headers=writer)
    assert refused.status_code == 503, refused.text
    problem = refused.json()
    assert problem["error"] == "KeyDisabled" and problem["tenant"] == "umbrella"
    assert "EnableKey" in problem["fix"]
    assert refused.headers["retry-after"].isdigit()
    state = api.client.get("/v1/tenants/umbrella", headers=api.as_role("umbrella", "tenant-admin"))
    assert state.json()["state"] == "KEY_UNAVAILABLE" and state.json()["state_detail"]
    metrics = api.client.get("/metrics", headers=api.auth(api.operator)).text
    assert 'byok_key_errors_total{error="KeyDisabled"' in metrics
    assert 'byok_tenants{state="KEY_UNAVAILABLE"} 1.0' in metrics
    customer.kms().enable_key(KeyId=customer.key_arn)
    back = api.client.get("/v1/tenants/umbrella/documents/a", headers=writer)
    assert back.status_code == 200 and back.content == b"x"


def test_audit_events_name_the_token_that_acted(api: ApiWorld) -> None:
    from byok.store.tokens import token_id_of

    token = api.tokens[("acme", "writer")]
    put = api.client.put("/v1/tenants/acme/documents/who.txt", content=b"x",
                         headers=api.auth(token))  # fmt: skip
    assert put.status_code == 200, put.text
    events = [
        item.event for item in api.vendor.audit.events("acme")
        if item.event.operation == "document:put" and item.event.document == "who.txt"
    ]  # fmt: skip
    assert [e.actor for e in events] == [f"token:{token_id_of(token)}"]
