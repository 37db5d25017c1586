"""``document_okm`` (RFC 5869 written out with one-shot HMACs, issue 18) gives exactly the
bytes of ``cryptography``'s HKDF-SHA256 with L=64, for every salt, IKM and info."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from byok.core.raw_keys import derive_document_key, document_okm
from byok.errors import InvalidInput


def _reference(material: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 64, salt, info).derive(material)


@given(
    material=st.binary(min_size=32, max_size=32),
    salt=st.binary(min_size=32, max_size=32),
    info=st.binary(max_size=1200),
)
def test_document_okm_is_hkdf_sha256_of_64_bytes(material: bytes, salt: bytes, info: bytes) -> None:
    okm = document_okm(material, salt, info)
    assert okm == _reference(material, salt, info)
    key = derive_document_key(material, salt, info)
    assert (key.key, key.commitment) == (okm[:32], okm[32:])


def test_rfc5869_shape_with_a_fixed_case() -> None:
    material, salt, info = bytes(range(32)), bytes(range(32, 64)), b"byok/v2" + bytes(50)
    assert document_okm(material, salt, info).hex() == _reference(material, salt, info).hex()


@pytest.mark.parametrize("salt", [b"", b"x" * 31, b"x" * 33])
def test_a_salt_that_is_not_32_bytes_is_refused(salt: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        document_okm(bytes(32), salt, b"")
    assert refused.value.field == "salt"
