"""Per-tenant vendor keys in a directory of 0600 files, outside the database and its backups.

The second half of the composite wrap (``byok.core.composite``,
docs/SECURITY.md#offboarding-and-backups): each tenant's wrapped TKs are stored sealed under
its vendor key, so a database backup alone (plus blobs, plus a customer key that still grants
the vendor) decrypts nothing once offboarding destroyed the key here.

Layout: ``<dir>/<sha256(tenant id) hex>.key``, 32 random bytes, mode 0600, the folder 0700.
A key is created once, atomically (temporary file, fsync, ``link`` to the final name: two
processes racing agree on one key), and destroyed by overwriting it with zeros, fsync, unlink
and fsync of the folder. Plaintext key bytes only ever leave as a
:class:`~byok.core.raw_keys.VendorKey` (no ``repr`` of the bytes).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from byok.core.raw_keys import KEY_BYTES, VendorKey
from byok.errors import StorageError

__all__ = ["VendorKeyDirectory"]


class VendorKeyDirectory:
    """The vendor keys of every tenant, one file each, under ``root``.

    Raises (every method):
        StorageError: the folder or a key file cannot be read or written (naming the folder,
            never key bytes).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def get(self, tenant: str) -> VendorKey | None:
        """The tenant's vendor key, or None if it has none (never made, or destroyed)."""
        try:
            data = self._path(tenant).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("read", tenant, exc) from None
        if len(data) != KEY_BYTES:
            raise StorageError(
                f"the vendor key file of this tenant in {self.root} is damaged",
                tenant=tenant, operation="vendor-key:read",
            )  # fmt: skip
        return VendorKey(tenant, data)

    def get_or_create(self, tenant: str) -> VendorKey:
        """The tenant's vendor key, made now (32 random bytes, mode 0600) if it has none."""
        existing = self.get(tenant)
        if existing is not None:
            return existing
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = self.root / f".{secrets.token_hex(8)}.partial"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(descriptor, secrets.token_bytes(KEY_BYTES))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            try:
                os.link(temporary, self._path(tenant))  # fails if another process won
            except FileExistsError:
                pass
            finally:
                temporary.unlink(missing_ok=True)
            _fsync_directory(self.root)
        except OSError as exc:
            raise self._error("create", tenant, exc) from None
        made = self.get(tenant)
        if made is None:
            raise StorageError("the vendor key vanished while being made", tenant=tenant)
        return made

    def destroy(self, tenant: str) -> bool:
        """Overwrite and delete the tenant's vendor key. Returns False if it had none."""
        path = self._path(tenant)
        try:
            descriptor = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._error("destroy", tenant, exc) from None
        try:
            os.write(descriptor, bytes(KEY_BYTES))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            path.unlink()
            _fsync_directory(self.root)
        except OSError as exc:
            raise self._error("destroy", tenant, exc) from None
        return True

    def _path(self, tenant: str) -> Path:
        return self.root / (hashlib.sha256(tenant.encode("utf-8")).hexdigest() + ".key")

    def _error(self, action: str, tenant: str, exc: OSError) -> StorageError:
        return StorageError(
            f"cannot {action} the tenant's vendor key in {self.root}: {exc.strerror}",
            tenant=tenant, operation=f"vendor-key:{action}",
            fix="Check BYOK_VENDOR_KEY_DIR exists and belongs to the service's user (mode 0700).",
        )  # fmt: skip


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
