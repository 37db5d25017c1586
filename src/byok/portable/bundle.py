"""The export bundle: layout, manifest and checks (pure: no AWS, no database).

A bundle is a folder (``docs/OPERATIONS.md#export``)::

    manifest.json          format, tenant, time, SHA-256 of keys.json, one entry per document
    keys.json              the tenant's wrapped TKs: tk_id, key ARN, region, encryption
                           context, wrapped copy (base64; KMS ciphertext, not secret)
    documents/00000001.byok ...   each document exactly as stored (docs/FORMAT.md)

``manifest.json`` is written last, so a bundle without one is incomplete. Integrity: the
hashes catch damage and truncation in transit; authenticity comes from the cryptography
itself (every wrapped TK is authenticated by KMS under its encryption context, every document
by AES-GCM with a header that binds tenant, document name and TK id), so an edited bundle
fails to decrypt even if its hashes were recomputed.

Everything read from a bundle is untrusted: sizes are capped before reading, every field is
type-checked, document paths must match ``documents/<digits>.byok`` exactly, and
:func:`output_paths` maps document names to relative paths that cannot leave the output folder.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from byok.core.arn import parse_key_arn
from byok.core.context import encode_id, stored_key_context
from byok.errors import IntegrityError, InvalidInput

__all__ = [
    "BUNDLE_FORMAT",
    "DOCUMENTS_DIR",
    "KEYS_FILE",
    "MANIFEST_FILE",
    "ExportManifest",
    "ExportedDocument",
    "ExportedKey",
    "document_path",
    "file_sha256",
    "keys_json",
    "load_bundle",
    "output_paths",
    "parse_keys",
]

BUNDLE_FORMAT = "byok-export/1"
MANIFEST_FILE = "manifest.json"
KEYS_FILE = "keys.json"
DOCUMENTS_DIR = "documents"
MAX_MANIFEST_BYTES = 1 << 30
MAX_KEYS_BYTES = 256 << 20
_DOC_PATH = re.compile(r"documents/[0-9]{8,12}\.byok")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE = " -_.~()+,=@"
_MAX_COMPONENT = 200
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ExportedKey:
    """One wrapped tenant key in ``keys.json`` (KMS ciphertext: useless without the CMK)."""

    tk_id: str
    key_arn: str
    region: str
    encryption_context: Mapping[str, str]
    wrapped: bytes = field(repr=False)


@dataclass(frozen=True)
class ExportedDocument:
    """One document of the bundle: its name, file, stored size and SHA-256, TK and times."""

    name: str
    path: str
    size: int
    sha256: str
    tk_id: str | None
    generation: int
    created_at: str
    updated_at: str
    write_id: str | None = None  # bound into the document's header (docs/FORMAT.md)


@dataclass(frozen=True)
class ExportManifest:
    """``manifest.json``."""

    tenant: str
    created_at: str
    keys_sha256: str
    keys: int
    documents: tuple[ExportedDocument, ...]
    format: str = BUNDLE_FORMAT

    def to_json(self) -> bytes:
        """The manifest file's bytes (sorted keys, UTF-8)."""
        body = {
            "format": self.format, "tenant": self.tenant, "created_at": self.created_at,
            "keys": {"path": KEYS_FILE, "sha256": self.keys_sha256, "count": self.keys},
            "documents": [vars(d) for d in self.documents],
        }  # fmt: skip
        return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ExportManifest:
        """Parse and check a manifest.

        Raises:
            InvalidInput: (field ``manifest``) not a byok export manifest of this format.
        """
        data = _object(_json(raw, "manifest"), "manifest")
        if data.get("format") != BUNDLE_FORMAT:
            raise _bad("manifest", f"is not a {BUNDLE_FORMAT} manifest")
        tenant = _text(data.get("tenant"), "tenant")
        encode_id(tenant, "tenant")
        keys = _object(data.get("keys"), "keys")
        if keys.get("path") != KEYS_FILE:
            raise _bad("manifest", "keys.path must be keys.json")
        items = data.get("documents")
        if not isinstance(items, list):
            raise _bad("manifest", "documents must be a list")
        documents = tuple(_document(_object(item, "document")) for item in items)
        if len({d.path for d in documents}) != len(documents):
            raise _bad("manifest", "two documents share a file")
        return cls(
            tenant=tenant, created_at=_text(data.get("created_at"), "created_at"),
            keys_sha256=_hash(keys.get("sha256")), keys=_count(keys.get("count")),
            documents=documents,
        )  # fmt: skip


def document_path(index: int) -> str:
    """The bundle path of the ``index``-th document (1-based)."""
    return f"{DOCUMENTS_DIR}/{index:08d}.byok"


def keys_json(tenant: str, keys: Iterable[ExportedKey]) -> bytes:
    """The bytes of ``keys.json``."""
    body = {
        "tenant": tenant,
        "keys": [
            {"tk_id": k.tk_id, "key_arn": k.key_arn, "region": k.region,
             "encryption_context": dict(k.encryption_context),
             "wrapped": base64.b64encode(k.wrapped).decode("ascii")}
            for k in keys
        ],
    }  # fmt: skip
    return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()


def parse_keys(raw: bytes, tenant: str) -> dict[str, ExportedKey]:
    """Parse ``keys.json``; every context must be exactly the TK's (docs/FORMAT.md).

    Returns:
        The keys by TK id.

    Raises:
        InvalidInput: (field ``keys``) malformed, another tenant's, or a context that is not
            ``{byok:tenant, byok:tk}`` of the key.
    """
    data = _object(_json(raw, "keys"), "keys")
    if data.get("tenant") != tenant:
        raise _bad("keys", "belong to another tenant")
    items = data.get("keys")
    if not isinstance(items, list):
        raise _bad("keys", "must be a list")
    keys: dict[str, ExportedKey] = {}
    for item in items:
        entry = _object(item, "keys")
        tk_id = _text(entry.get("tk_id"), "tk_id")
        arn = parse_key_arn(entry.get("key_arn"), field="key_arn")
        context = _key_context(tenant, tk_id, entry.get("encryption_context"))
        if context is None or entry.get("region") != arn.region:
            raise _bad("keys", f"entry {tk_id!r} does not match its key")
        try:
            wrapped = base64.b64decode(_text(entry.get("wrapped"), "wrapped"), validate=True)
        except (binascii.Error, ValueError):
            raise _bad("keys", f"entry {tk_id!r} is not base64") from None
        keys[tk_id] = ExportedKey(tk_id, str(entry["key_arn"]), arn.region, context, wrapped)
    return keys


def file_sha256(path: Path) -> tuple[int, str]:
    """Return ``(size, SHA-256 hex)`` of a file, read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def load_bundle(bundle: Path) -> tuple[ExportManifest, dict[str, ExportedKey]]:
    """Read and verify a bundle: manifest, ``keys.json`` and every document's size and hash.

    Returns:
        The manifest and the keys by TK id.

    Raises:
        InvalidInput: no manifest, or a malformed one.
        IntegrityError: a file is missing, or its size or hash is not the manifest's.
    """
    manifest_file = bundle / MANIFEST_FILE
    if not manifest_file.is_file():
        raise InvalidInput("bundle", f"{bundle} has no {MANIFEST_FILE} (incomplete export?)")
    manifest = ExportManifest.from_json(_read_capped(manifest_file, MAX_MANIFEST_BYTES))
    raw_keys = _read_capped(bundle / KEYS_FILE, MAX_KEYS_BYTES)
    if hashlib.sha256(raw_keys).hexdigest() != manifest.keys_sha256:
        raise IntegrityError(operation="export:verify", fix=_REEXPORT)
    keys = parse_keys(raw_keys, manifest.tenant)
    for document in manifest.documents:
        path = bundle / document.path
        if not path.is_file() or file_sha256(path) != (document.size, document.sha256):
            raise IntegrityError(operation="export:verify", fix=_REEXPORT)
    return manifest, keys


def output_paths(names: Sequence[str]) -> dict[str, str]:
    """Map document names to relative output paths that stay inside the output folder.

    Each ``/``-separated part is percent-encoded (``.`` and ``..`` too; over-long parts are
    shortened with a hash). A name whose path collides with another's file or folder goes to
    ``_collisions/<sha256 of the name>``.

    Returns:
        Name to relative POSIX path.
    """
    paths: dict[str, str] = {}
    files: set[str] = set()
    folders: set[str] = set()
    for name in names:
        parts = [_component(part) for part in name.split("/")]
        path = "/".join(parts)
        parents = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if path in files or path in folders or parents & files:
            path = "_collisions/" + hashlib.sha256(name.encode()).hexdigest()
            parents = {"_collisions"}
        paths[name] = path
        files.add(path)
        folders |= parents
    return paths


_REEXPORT = "The bundle is damaged or incomplete: copy it again or ask the vendor to re-export."


def _component(part: str) -> str:
    if part in ("", ".", ".."):
        return {"": "%00", ".": "%2E", "..": "%2E%2E"}[part]
    quoted = quote(part, safe=_SAFE)
    if len(quoted) > _MAX_COMPONENT:
        digest = hashlib.sha256(part.encode()).hexdigest()[:16]
        quoted = quoted[: _MAX_COMPONENT - 20].rstrip("%0123456789ABCDEF") + "~" + digest
    return quoted


def _read_capped(path: Path, limit: int) -> bytes:
    if not path.is_file():
        raise IntegrityError(operation="export:verify", fix=_REEXPORT)
    with path.open("rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise InvalidInput("bundle", f"{path.name} is larger than {limit} bytes")
    return raw


def _document(entry: Mapping[str, Any]) -> ExportedDocument:
    path = _text(entry.get("path"), "path")
    if not _DOC_PATH.fullmatch(path):
        raise _bad("manifest", "a document path is not documents/<number>.byok")
    tk_id = entry.get("tk_id")
    if tk_id is not None:
        encode_id(_text(tk_id, "tk_id"), "tk_id")
    return ExportedDocument(
        name=_text(entry.get("name"), "name"), path=path, size=_count(entry.get("size")),
        sha256=_hash(entry.get("sha256")), tk_id=tk_id, generation=_count(entry.get("generation")),
        created_at=_text(entry.get("created_at"), "created_at"),
        updated_at=_text(entry.get("updated_at"), "updated_at"),
        write_id=None if entry.get("write_id") is None else _text(entry["write_id"], "write_id"),
    )  # fmt: skip


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad(what, "is not JSON") from None


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _bad(what, "must be a JSON object")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad("manifest", f"{what} must be a non-empty string")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad("manifest", "sizes and counts must be non-negative integers")
    return value


def _hash(value: Any) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise _bad("manifest", "a hash is not 64 lower-case hex digits")
    return value


def _bad(what: str, problem: str) -> InvalidInput:
    return InvalidInput(
        what, problem, fix="Use the bundle exactly as `byok tenant export` wrote it."
    )


def _key_context(tenant: str, tk_id: str, raw: object) -> dict[str, str] | None:
    """The entry's KMS context if it names this tenant and TK (and only byok's keys)."""
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        return None
    try:
        return stored_key_context(tenant, tk_id, raw)
    except IntegrityError:
        return None
