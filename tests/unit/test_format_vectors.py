"""The format test vectors (tests/vectors/format, docs/FORMAT.md#test-vectors): v2 and v1."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from byok.core.bound_context import BoundContext
from byok.core.format import parse_header
from byok.core.raw_keys import V2_INFO_LABEL, TenantKey, derive_document_key, document_key_info
from byok.core.stream import decrypt_bytes, decrypt_stream, encrypt_bytes, iter_decrypt
from byok.errors import IntegrityError

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "format"


def _load(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((VECTORS / name).read_text("utf-8"))["vectors"]
    return vectors


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", ROOT / "scripts/make_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VALID, INVALID = _load("valid.json"), _load("invalid.json")
V1_VALID, V1_INVALID = _load("v1-valid.json"), _load("v1-invalid.json")


def _key(v: dict[str, Any]) -> TenantKey:
    return TenantKey(v["tenant"], v["tk_id"], bytes.fromhex(v["tenant_key"]))


def _context(v: dict[str, Any]) -> BoundContext:
    return BoundContext(v["tenant"], v["document_id"], v["write_id"], v["extra_context"])


def test_files_are_exactly_what_the_generator_writes() -> None:
    generator = _generator()
    contents = generator.build()
    assert set(contents) == {"valid.json", "invalid.json", "v1-valid.json", "v1-invalid.json"}
    for name, content in contents.items():
        assert (VECTORS / name).read_text("utf-8") == generator.render(content), name


def test_vectors_cover_the_required_cases() -> None:
    names = {v["name"] for v in VALID}
    assert {"empty document", "exact multiple of the frame size", "multi-frame"} <= names
    assert {"extra pairs", "no write id", "longest ids"} <= names
    assert len({v["frame_size"] for v in VALID}) >= 3
    kinds = {v["kind"] for v in INVALID}
    assert {
        "truncate_final_frame", "swap_frames", "duplicate_frame", "splice_other_document",
        "wrong_tenant", "wrong_document_id", "wrong_key", "commitment_mismatch_valid_tags",
        "full_final_frame", "rollback_other_write_id", "v1_downgrade", "unexpected_pair",
        "context_not_sorted", "context_too_many_pairs",
    } <= kinds  # fmt: skip
    assert {"header_tag_edit", "commitment_mismatch_valid_tags"} <= {v["kind"] for v in V1_INVALID}


@pytest.mark.parametrize("v", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector(v: dict[str, Any]) -> None:
    ct, plaintext = bytes.fromhex(v["ciphertext"]), bytes.fromhex(v["plaintext"])
    key, salt, context = _key(v), bytes.fromhex(v["salt"]), _context(v)
    assert decrypt_bytes(ct, key, context) == plaintext
    sink = io.BytesIO()
    decrypt_stream(io.BytesIO(ct), sink, key, context)
    assert sink.getvalue() == plaintext
    assert b"".join(iter_decrypt(io.BytesIO(ct), key, context)) == plaintext
    again = encrypt_bytes(plaintext, key, context, frame_size=v["frame_size"], salt=salt)
    assert again == ct
    header = parse_header(ct)
    assert context.encoded.hex() == v["bound_context"] and header.context == context
    info = V2_INFO_LABEL + ct[: header.size - 64]
    assert info.hex() == v["hkdf_info"]
    derived = derive_document_key(key.material, salt, info)
    assert derived.key.hex() == v["document_key"]
    assert derived.commitment.hex() == v["commitment"] == header.commitment.hex()


@pytest.mark.parametrize("v", INVALID, ids=[v["kind"] for v in INVALID])
def test_invalid_vector(v: dict[str, Any]) -> None:
    ct, context = bytes.fromhex(v["ciphertext"]), _context(v)
    with pytest.raises(IntegrityError) as one_shot:
        decrypt_bytes(ct, _key(v), context)
    with pytest.raises(IntegrityError) as streamed:
        decrypt_stream(io.BytesIO(ct), io.BytesIO(), _key(v), context)
    assert str(one_shot.value) == str(streamed.value) == str(IntegrityError())


@pytest.mark.parametrize("v", V1_VALID, ids=[v["name"] for v in V1_VALID])
def test_v1_documents_stay_readable(v: dict[str, Any]) -> None:
    ct, plaintext, key = bytes.fromhex(v["ciphertext"]), bytes.fromhex(v["plaintext"]), _key(v)
    assert decrypt_bytes(ct, key, v["document_id"]) == plaintext
    assert decrypt_bytes(ct, key, BoundContext(v["tenant"], v["document_id"])) == plaintext
    sink = io.BytesIO()
    decrypt_stream(io.BytesIO(ct), sink, key, v["document_id"])
    assert sink.getvalue() == plaintext
    info = document_key_info(
        1, 1, v["tenant"].encode(), v["document_id"].encode(), v["tk_id"].encode()
    )
    assert info.hex() == v["hkdf_info"]
    assert parse_header(ct).commitment.hex() == v["commitment"]
    # A v1 document binds no write id: a reader that expects one refuses it (no downgrade).
    with pytest.raises(IntegrityError):
        decrypt_bytes(ct, key, BoundContext(v["tenant"], v["document_id"], "w_any"))


@pytest.mark.parametrize("v", V1_INVALID, ids=[v["kind"] for v in V1_INVALID])
def test_v1_invalid_vector(v: dict[str, Any]) -> None:
    ct = bytes.fromhex(v["ciphertext"])
    with pytest.raises(IntegrityError) as one_shot:
        decrypt_bytes(ct, _key(v), v["document_id"])
    with pytest.raises(IntegrityError) as streamed:
        decrypt_stream(io.BytesIO(ct), io.BytesIO(), _key(v), v["document_id"])
    assert str(one_shot.value) == str(streamed.value) == str(IntegrityError())
