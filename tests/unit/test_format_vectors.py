"""The format test vectors (tests/vectors/format, docs/FORMAT.md#test-vectors)."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from byok.core.format import ALGORITHM, VERSION, parse_header
from byok.core.raw_keys import TenantKey, derive_document_key, document_key_info
from byok.core.stream import decrypt_bytes, decrypt_stream, encrypt_bytes
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


VALID = _load("valid.json")
INVALID = _load("invalid.json")


def _key(v: dict[str, Any]) -> TenantKey:
    return TenantKey(v["tenant"], v["tk_id"], bytes.fromhex(v["tenant_key"]))


def test_files_are_exactly_what_the_generator_writes() -> None:
    generator = _generator()
    for name, content in generator.build().items():
        assert (VECTORS / name).read_text("utf-8") == generator.render(content), name


def test_vectors_cover_the_required_cases() -> None:
    names = {v["name"] for v in VALID}
    assert {"empty document", "exact multiple of the frame size", "multi-frame"} <= names
    assert len({v["frame_size"] for v in VALID}) >= 3
    kinds = {v["kind"] for v in INVALID}
    assert {
        "truncate_final_frame",
        "swap_frames",
        "duplicate_frame",
        "splice_other_document",
        "header_tag_edit",
        "wrong_tenant",
        "wrong_document_id",
        "wrong_key",
        "commitment_mismatch_valid_tags",
        "full_final_frame",
    } <= kinds


@pytest.mark.parametrize("v", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector(v: dict[str, Any]) -> None:
    ct, plaintext = bytes.fromhex(v["ciphertext"]), bytes.fromhex(v["plaintext"])
    key, salt = _key(v), bytes.fromhex(v["salt"])
    assert decrypt_bytes(ct, key, v["document_id"]) == plaintext
    sink = io.BytesIO()
    decrypt_stream(io.BytesIO(ct), sink, key, v["document_id"])
    assert sink.getvalue() == plaintext
    again = encrypt_bytes(plaintext, key, v["document_id"], frame_size=v["frame_size"], salt=salt)
    assert again == ct
    info = document_key_info(
        VERSION, ALGORITHM, v["tenant"].encode(), v["document_id"].encode(), v["tk_id"].encode()
    )
    assert info.hex() == v["hkdf_info"]
    derived = derive_document_key(key.material, salt, info)
    assert derived.key.hex() == v["document_key"]
    assert derived.commitment.hex() == v["commitment"] == parse_header(ct).commitment.hex()


@pytest.mark.parametrize("v", INVALID, ids=[v["kind"] for v in INVALID])
def test_invalid_vector(v: dict[str, Any]) -> None:
    ct = bytes.fromhex(v["ciphertext"])
    with pytest.raises(IntegrityError) as one_shot:
        decrypt_bytes(ct, _key(v), v["document_id"])
    with pytest.raises(IntegrityError) as streamed:
        decrypt_stream(io.BytesIO(ct), io.BytesIO(), _key(v), v["document_id"])
    assert str(one_shot.value) == str(streamed.value) == str(IntegrityError())
