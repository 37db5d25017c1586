"""Export for portability: the customer decrypts its bundle with only its own AWS credentials,
after the vendor's database and blobs are gone."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from lifecycle_world import (
    TENANT,
    Crash,
    CrashAfter,
    customer_factory,
    new_direct_config,
    onboard_direct,
    second_key,
    write_documents,
)

import byok.portable
from byok.errors import IntegrityError, InvalidInput
from byok.portable import decrypt_export, load_bundle, output_paths
from byok.service.export import export_tenant
from byok.service.lifecycle import migrate_tenant
from support.world import World


@pytest.mark.localaws
def test_customer_decrypts_the_export_with_the_vendor_gone(
    local_aws: Any, sqlite_world: World, tmp_path: Path
) -> None:
    vendor, old = sqlite_world.vendor, sqlite_world.customer
    onboard_direct(vendor, old)
    written = write_documents(vendor, 5)
    # A half-done key migration: the bundle holds TKs under two of the customer's CMKs.
    new = second_key(old)
    with pytest.raises(Crash):
        migrate_tenant(
            vendor, TENANT, to_version=new_direct_config(vendor, new), progress=CrashAfter(1)
        )
    written |= write_documents(vendor, 3, prefix="odd/../name/")
    bundle = tmp_path / "bundle"
    manifest = export_tenant(vendor, TENANT, bundle)
    assert len(manifest.documents) == 8 and manifest.keys == len(vendor.tenant_keys.list(TENANT))
    assert {d.name for d in manifest.documents} == set(written)
    assert {k.key_arn for k in load_bundle(bundle)[1].values()} == {old.key_arn, new.key_arn}

    vendor.store.close()  # the vendor's side is gone: database and blob store
    shutil.rmtree(tmp_path / "blobs")
    (tmp_path / "byok.db").unlink()

    factory = customer_factory(local_aws, old)  # the customer's root, no vendor identity
    out = tmp_path / "plain"
    summary = decrypt_export(bundle, out, factory)
    assert summary.tenant == TENANT and summary.documents == 8
    assert summary.keys_unwrapped == len({d.tk_id for d in manifest.documents})
    assert factory.counts() == {"kms:Decrypt": summary.keys_unwrapped}  # one per TK
    for name, body in written.items():
        path = out / summary.paths[name]
        assert path.resolve().is_relative_to(out.resolve()), name
        assert path.read_bytes() == body, name
    index = json.loads((out / "index.json").read_text())
    assert {d["name"] for d in index["documents"]} == set(written)


@pytest.mark.localaws
def test_a_damaged_bundle_is_refused_before_anything_is_decrypted(
    local_aws: Any, sqlite_world: World, tmp_path: Path
) -> None:
    vendor = sqlite_world.vendor
    onboard_direct(vendor, sqlite_world.customer)
    write_documents(vendor, 2)
    bundle = tmp_path / "bundle"
    manifest = export_tenant(vendor, TENANT, bundle)
    with pytest.raises(InvalidInput, match="not empty"):
        export_tenant(vendor, TENANT, bundle)
    target = bundle / manifest.documents[1].path
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    factory = customer_factory(local_aws, sqlite_world.customer)
    with pytest.raises(IntegrityError):
        decrypt_export(bundle, tmp_path / "out", factory)
    assert factory.counts() == {} and not (tmp_path / "out").exists()

    # Recomputing the hashes does not help: the document itself does not authenticate.
    raw = json.loads((bundle / "manifest.json").read_text())
    raw["documents"][1]["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(IntegrityError):
        decrypt_export(bundle, tmp_path / "out", factory)
    assert not (tmp_path / "out" / "documents" / "doc-001").exists()


def test_output_paths_stay_inside_the_output_folder() -> None:
    names = ["../../etc/passwd", "/abs", "a/./b", "a", "a/b", ".", "x" * 1000, "ok/name.txt"]
    paths = output_paths(names)
    for name, path in paths.items():
        parts = path.split("/")
        assert ".." not in parts and "." not in parts and "" not in parts, name
        assert all(len(p.encode()) <= 255 for p in parts), name
    assert paths["ok/name.txt"] == "ok/name.txt"
    files = list(paths.values())
    assert len(set(files)) == len(files)
    assert not any(f.startswith(g + "/") for f in files for g in files)  # no file is a folder


def test_a_manifest_with_a_path_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({
        "format": "byok-export/1", "tenant": "acme", "created_at": "now",
        "keys": {"path": "keys.json", "sha256": "0" * 64, "count": 0},
        "documents": [{"name": "x", "path": "../../secret", "size": 1, "sha256": "0" * 64,
                       "tk_id": None, "generation": 1, "created_at": "t", "updated_at": "t"}],
    }))  # fmt: skip
    with pytest.raises(InvalidInput, match=r"documents/<number>\.byok"):
        load_bundle(tmp_path)


def test_the_portable_package_needs_no_vendor_side() -> None:
    root = Path(byok.portable.__file__).parent
    imported: set[str] = set()
    for module in root.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
    forbidden = ("byok.store", "byok.service", "byok.cli", "byok.localaws", "sqlalchemy")
    assert not [m for m in imported if m.startswith(forbidden)]
    assert set(byok.portable.__all__) <= set(dir(byok.portable))
