"""Decrypt an export bundle with only the customer's own AWS credentials.

Needs no vendor database, service or blob store: the bundle (``byok.portable.bundle``), boto3
through :class:`~byok.aws.clients.ClientFactory` signed by the customer's identity, and the
pure core (``docs/FORMAT.md``). KMS cost: one ``kms:Decrypt`` per tenant key a document uses,
on the customer's own CMK, under the TK's encryption context (visible in its CloudTrail).

Order of work, fail closed: the whole bundle is verified first (manifest, ``keys.json`` and
every document's size and SHA-256); each document is then decrypted into a temporary file in
the output folder and renamed into place only once every frame verified, so a failure never
leaves a partial plaintext behind under a document's name.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from byok.aws.clients import ClientFactory
from byok.aws.kms import KmsKeyWrapper
from byok.core.bound_context import BoundContext
from byok.core.context import document_bound
from byok.core.format import Header, integrity_error
from byok.core.raw_keys import TenantKey
from byok.core.stream import KeyLookup, decrypt_stream
from byok.core.tenant_config import TenantKeyConfig
from byok.errors import InvalidInput
from byok.portable.bundle import ExportedKey, ExportManifest, load_bundle, output_paths
from byok.private_files import make_private_dir, open_private, write_private_text

__all__ = ["DecryptSummary", "decrypt_export"]

INDEX_FILE = "index.json"
OUTPUT_DIR = "documents"


@dataclass(frozen=True)
class DecryptSummary:
    """What :func:`decrypt_export` wrote.

    Attributes:
        tenant: the tenant the bundle belongs to.
        documents: how many documents were decrypted.
        plaintext_bytes: their total size.
        keys_unwrapped: how many TKs were unwrapped (one kms:Decrypt each).
        paths: document name to its path relative to the output folder.
    """

    tenant: str
    documents: int
    plaintext_bytes: int
    keys_unwrapped: int
    paths: dict[str, str]


class _Keys:
    """The bundle's TKs, each unwrapped on first use with the customer's credentials."""

    def __init__(self, tenant: str, keys: dict[str, ExportedKey], factory: ClientFactory):
        self._tenant, self._keys, self._factory = tenant, keys, factory
        self._plain: dict[str, TenantKey] = {}
        self._wrappers: dict[str, KmsKeyWrapper] = {}

    @property
    def unwrapped(self) -> int:
        """How many TKs were unwrapped so far."""
        return len(self._plain)

    def lookup(self, document_id: str) -> KeyLookup:
        """A key lookup for one document: docs/FORMAT.md#decryption steps 2-3."""

        def find(header: Header) -> TenantKey:
            if header.tenant != self._tenant or header.document_id != document_id:
                raise integrity_error()
            return self._key(header.tk_id)

        return find

    def _key(self, tk_id: str) -> TenantKey:
        cached = self._plain.get(tk_id)
        if cached is not None:
            return cached
        entry = self._keys.get(tk_id)
        if entry is None:  # a header naming a TK the bundle does not have
            raise integrity_error()
        unwrapped = self._wrapper(entry).unwrap(entry.wrapped, entry.encryption_context)
        bound = document_bound(entry.encryption_context)
        key = self._plain[tk_id] = TenantKey(self._tenant, tk_id, unwrapped.plaintext, bound)
        return key

    def _wrapper(self, entry: ExportedKey) -> KmsKeyWrapper:
        wrapper = self._wrappers.get(entry.key_arn)
        if wrapper is None:
            config = TenantKeyConfig(tenant=self._tenant, mode="direct", key_arn=entry.key_arn)
            client = self._factory.client("kms", entry.region)
            wrapper = self._wrappers[entry.key_arn] = KmsKeyWrapper(config, client)
        return wrapper


def decrypt_export(
    bundle_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], factory: ClientFactory
) -> DecryptSummary:
    """Verify a bundle and decrypt every document into ``out_dir``.

    Writes ``out_dir/documents/<name as a safe path>`` per document and ``out_dir/index.json``
    (name, path, size). ``factory`` must sign with the customer's credentials (a principal
    with ``kms:Decrypt`` on its CMK, e.g. its key administrators' role).

    Returns:
        A :class:`DecryptSummary`.

    Raises:
        InvalidInput: no or a malformed manifest, or ``out_dir`` is not empty.
        IntegrityError: a file is damaged, or a document or wrapped key does not authenticate.
        CustomerAccessError: the customer's own key refused (disabled, policy ...).
        TransientKmsError: KMS trouble; run it again.
    """
    manifest, keys = load_bundle(Path(bundle_dir))
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise InvalidInput("out_dir", f"{out} is not empty", fix="Give a new or empty folder.")
    paths = output_paths([d.name for d in manifest.documents])
    resolver = _Keys(manifest.tenant, keys, factory)
    total = 0
    for document in manifest.documents:
        target = out / OUTPUT_DIR / paths[document.name]
        expected = BoundContext(manifest.tenant, document.name, document.write_id)
        total += _decrypt_one(Path(bundle_dir) / document.path, target, resolver, expected)
    _write_index(out, manifest, paths)
    return DecryptSummary(
        manifest.tenant, len(manifest.documents), total, resolver.unwrapped,
        {name: f"{OUTPUT_DIR}/{path}" for name, path in paths.items()},
    )  # fmt: skip


def _decrypt_one(source: Path, target: Path, keys: _Keys, expected: BoundContext) -> int:
    """Decrypt one document into a temporary file, then rename it into place."""
    make_private_dir(target.parent)  # plaintext: 0600 files in 0700 folders
    partial = target.with_name(f".{secrets.token_hex(8)}.partial")
    try:
        with source.open("rb") as src, open_private(partial) as sink:
            size = decrypt_stream(src, sink, keys.lookup(expected.document), expected)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size


def _write_index(out: Path, manifest: ExportManifest, paths: dict[str, str]) -> None:
    index = {
        "tenant": manifest.tenant,
        "exported_at": manifest.created_at,
        "documents": [
            {"name": d.name, "path": f"{OUTPUT_DIR}/{paths[d.name]}", "tk_id": d.tk_id,
             "updated_at": d.updated_at}
            for d in manifest.documents
        ],
    }  # fmt: skip
    make_private_dir(out)
    write_private_text(out / INDEX_FILE, json.dumps(index, indent=1) + "\n")
