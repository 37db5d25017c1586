"""The composite wrap's seal (byok.core.composite) and the vendor key folder
(byok.store.vendor_keys): docs/SECURITY.md#offboarding-and-backups."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from byok.core.composite import seal_wrapped, unseal_wrapped
from byok.core.raw_keys import VendorKey
from byok.errors import IntegrityError, InvalidInput
from byok.store.vendor_keys import VendorKeyDirectory

KEY = VendorKey("acme", bytes(range(32)))


def test_seal_round_trip_and_every_binding() -> None:
    wrapped = os.urandom(180)
    sealed = seal_wrapped(KEY, "tk_1", wrapped)
    assert wrapped not in sealed and sealed.startswith(b"BYOKSEAL\x01")
    assert unseal_wrapped(KEY, "tk_1", sealed) == wrapped
    assert seal_wrapped(KEY, "tk_1", wrapped) != sealed  # fresh nonce every time
    for key, tk_id, data in [
        (KEY, "tk_2", sealed),  # another TK's row
        (VendorKey("beta", KEY.material), "tk_1", sealed),  # another tenant's
        (VendorKey("acme", bytes(32)), "tk_1", sealed),  # another (or a new) vendor key
        (KEY, "tk_1", sealed[:-1] + bytes([sealed[-1] ^ 1])),
        (KEY, "tk_1", wrapped),  # not sealed at all
        (KEY, "tk_1", b""),
    ]:
        with pytest.raises(IntegrityError):
            unseal_wrapped(key, tk_id, data)
    with pytest.raises(InvalidInput):
        seal_wrapped(KEY, "tk_1", b"")


def test_vendor_key_bytes_never_in_repr() -> None:
    assert KEY.material.hex() not in repr(KEY) and "acme" in repr(KEY)
    with pytest.raises(InvalidInput):
        VendorKey("acme", b"short")


def test_vendor_key_folder_makes_keeps_and_destroys(tmp_path: Path) -> None:
    folder = VendorKeyDirectory(tmp_path / "keys")
    assert folder.get("acme") is None and folder.destroy("acme") is False
    made = folder.get_or_create("acme")
    again = VendorKeyDirectory(tmp_path / "keys").get_or_create("acme")  # another process
    assert made.material == again.material and len(made.material) == 32
    other = folder.get_or_create("beta")
    assert other.material != made.material
    files = list((tmp_path / "keys").iterdir())
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert all("acme" not in f.name for f in files)  # names are hashes of the tenant id
    assert folder.destroy("acme") is True
    assert folder.get("acme") is None and folder.get("beta") is not None
    assert folder.get_or_create("acme").material != made.material  # a new key, not the old
