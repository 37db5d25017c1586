"""byok.portable: the customer's way out. Reads and decrypts an export bundle with only the
customer's own AWS credentials: no vendor database, service or blob store is needed.

::

    decrypt_export(bundle_dir, out_dir, factory)   verify, then decrypt every document
    load_bundle(bundle_dir)                        verify only: manifest, keys, hashes
    ExportManifest, ExportedKey, ExportedDocument  the bundle format (bundle.py)

Imports only the pure core, ``byok.aws`` (boto3 through the client factory) and
``byok.errors``; never ``byok.store`` or ``byok.service`` (a test checks it).
"""

from byok.portable.bundle import (
    BUNDLE_FORMAT,
    ExportedDocument,
    ExportedKey,
    ExportManifest,
    load_bundle,
    output_paths,
)
from byok.portable.decrypt import DecryptSummary, decrypt_export

__all__ = [
    "BUNDLE_FORMAT",
    "DecryptSummary",
    "ExportManifest",
    "ExportedDocument",
    "ExportedKey",
    "decrypt_export",
    "load_bundle",
    "output_paths",
]
