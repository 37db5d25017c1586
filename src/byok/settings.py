"""Vendor-side settings, from environment variables with embedded defaults.

Every setting has a default that works on one machine with no AWS account and no server to
install: an SQLite file and a blob folder under ``.byok/`` and the project's local AWS.

========================================  ==========================================
variable                                  meaning (default)
========================================  ==========================================
``BYOK_HOME``                             data folder (``.byok``)
``BYOK_DATABASE_URL``                     SQLAlchemy URL (``sqlite:///<home>/byok.db``)
``BYOK_BLOB_DIR``                         filesystem blob store (``<home>/blobs``)
``BYOK_BLOB_URL``                         ``s3://bucket[/prefix]``: S3 blobs instead (a
                                          cluster: docs/OPERATIONS.md#cluster)
``BYOK_AWS_ENDPOINT_URL``                 AWS endpoint; unset means real AWS
``BYOK_VENDOR_ACCOUNT``                   vendor's AWS account id
``BYOK_VENDOR_ROLE_NAME``                 vendor role customers trust
                                          (``document-storage-role``)
``BYOK_ALLOWED_REGIONS``                  comma list (``us-east-1``)
``BYOK_REVOCATION_BOUND_SECONDS``         tenant-key cache TTL (300; 1 to 3600)
``BYOK_KEY_MONITOR_INTERVAL_SECONDS``     DescribeKey sweep interval (60)
``BYOK_VERIFY_BEFORE_SEND_BYTES``         API downloads verified whole before sending up
                                          to this stored size (1048576; larger stream)
``BYOK_VENDOR_KEY_DIR``                   per-tenant vendor keys of the composite wrap
                                          (``<home>/vendor-keys``; keep out of backups)
``BYOK_TENANT_ADMIN_APPROVALS``           1: a second tenant-admin may approve a
                                          key in another account (0: operators only)
``BYOK_PUBLIC_URL``                       the API's public address, which customers'
                                          EventBridge rules call (https://; http://
                                          only on loopback). Unset: each request's
                                          own origin, with a note saying so
========================================  ==========================================
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from byok.core.arn import parse_account_id
from byok.errors import InvalidInput

__all__ = ["Settings"]

DEFAULT_REVOCATION_BOUND_S = 300.0
MIN_REVOCATION_BOUND_S = 1.0
MAX_REVOCATION_BOUND_S = 3600.0


@dataclass(frozen=True)
class Settings:
    """Validated vendor settings. Build with :meth:`from_env` or directly in tests."""

    home: Path = Path(".byok")
    database_url: str | None = None
    blob_dir: Path | None = None
    blob_url: str | None = None
    aws_endpoint_url: str | None = None
    vendor_account: str = "000000000000"
    vendor_role_name: str = "document-storage-role"
    allowed_regions: tuple[str, ...] = ("us-east-1",)
    revocation_bound_s: float = DEFAULT_REVOCATION_BOUND_S
    key_monitor_interval_s: float = 60.0
    #: How often the key monitor anchors each tenant's audit head in the customer's CloudTrail
    #: (one kms:Encrypt per tenant per interval; 0 = only on demand, `byok audit anchor`).
    audit_anchor_interval_s: float = 3600.0
    verify_before_send_bytes: int = 1024 * 1024
    vendor_key_dir: Path | None = None
    tenant_admin_approvals: bool = False
    #: The API's public base URL (``https://byok.vendor.example``, perhaps with a path prefix;
    #: stored without a trailing slash): the key-event URL printed to customers starts with it.
    public_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parse_account_id(self.vendor_account, field="BYOK_VENDOR_ACCOUNT")
        bound = self.revocation_bound_s
        if not MIN_REVOCATION_BOUND_S <= bound <= MAX_REVOCATION_BOUND_S:
            raise InvalidInput(
                "BYOK_REVOCATION_BOUND_SECONDS",
                f"{bound} is outside {MIN_REVOCATION_BOUND_S:g}..{MAX_REVOCATION_BOUND_S:g}",
                fix="Choose how many seconds a revoked key may still be used from cache.",
            )
        if self.key_monitor_interval_s <= 0:
            raise InvalidInput(
                "BYOK_KEY_MONITOR_INTERVAL_SECONDS", "must be positive", fix="Use e.g. 60."
            )
        if self.audit_anchor_interval_s < 0:
            raise InvalidInput(
                "BYOK_AUDIT_ANCHOR_INTERVAL_SECONDS", "must be 0 (off) or positive",
                fix="Use e.g. 3600.",
            )  # fmt: skip
        if not 0 <= self.verify_before_send_bytes <= 1024**3:
            raise InvalidInput(
                "BYOK_VERIFY_BEFORE_SEND_BYTES", "must be 0 to 1073741824", fix="Use e.g. 1048576."
            )
        if self.blob_url is not None and not (
            self.blob_url.startswith("s3://") and len(self.blob_url) > len("s3://")
        ):
            raise InvalidInput(
                "BYOK_BLOB_URL", "must be s3://bucket or s3://bucket/prefix",
                fix="Name the S3 bucket every node shares, e.g. s3://acme-byok-blobs/docs.",
            )  # fmt: skip
        if not self.allowed_regions:
            raise InvalidInput("BYOK_ALLOWED_REGIONS", "is empty", fix="Use e.g. us-east-1.")
        if self.public_url is not None:
            object.__setattr__(self, "public_url", _public_url(self.public_url))

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file in :attr:`home`."""
        return self.database_url or f"sqlite:///{self.home / 'byok.db'}"

    @property
    def resolved_blob_dir(self) -> Path:
        """The blob folder, defaulting to ``<home>/blobs``."""
        return self.blob_dir or self.home / "blobs"

    @property
    def resolved_vendor_key_dir(self) -> Path:
        """The vendor key folder (docs/SECURITY.md#offboarding-and-backups), default
        ``<home>/vendor-keys``."""
        return self.vendor_key_dir or self.home / "vendor-keys"

    @property
    def vendor_role_arn(self) -> str:
        """ARN of the vendor role that customers name in their policies."""
        return f"arn:aws:iam::{self.vendor_account}:role/{self.vendor_role_name}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default: ``os.environ``).

        Raises:
            InvalidInput: naming the variable that is malformed.
        """
        env = os.environ if environ is None else environ
        home = Path(env.get("BYOK_HOME", ".byok"))
        regions = tuple(r.strip() for r in env.get("BYOK_ALLOWED_REGIONS", "us-east-1").split(","))
        return cls(
            home=home,
            database_url=env.get("BYOK_DATABASE_URL") or None,
            blob_dir=Path(env["BYOK_BLOB_DIR"]) if env.get("BYOK_BLOB_DIR") else None,
            blob_url=env.get("BYOK_BLOB_URL") or None,
            aws_endpoint_url=env.get("BYOK_AWS_ENDPOINT_URL") or None,
            vendor_account=env.get("BYOK_VENDOR_ACCOUNT", "000000000000"),
            vendor_role_name=env.get("BYOK_VENDOR_ROLE_NAME", "document-storage-role"),
            allowed_regions=tuple(r for r in regions if r),
            revocation_bound_s=_number(env, "BYOK_REVOCATION_BOUND_SECONDS", 300.0),
            key_monitor_interval_s=_number(env, "BYOK_KEY_MONITOR_INTERVAL_SECONDS", 60.0),
            audit_anchor_interval_s=_number(env, "BYOK_AUDIT_ANCHOR_INTERVAL_SECONDS", 3600.0),
            verify_before_send_bytes=int(
                _number(env, "BYOK_VERIFY_BEFORE_SEND_BYTES", 1024.0 * 1024)
            ),
            vendor_key_dir=(
                Path(env["BYOK_VENDOR_KEY_DIR"]) if env.get("BYOK_VENDOR_KEY_DIR") else None
            ),
            tenant_admin_approvals=env.get("BYOK_TENANT_ADMIN_APPROVALS", "0") == "1",
            public_url=env.get("BYOK_PUBLIC_URL") or None,
        )


_PUBLIC_URL_FIX = (
    "Give the address customers' AWS accounts reach the API at, e.g. "
    "https://byok.vendor.example (http:// only for localhost or a loopback address)."
)


def _public_url(raw: str) -> str:
    """``raw`` normalised (scheme lower case, no trailing slash) if it is a usable public URL.

    Customers' EventBridge rules send key events to it, so it must be an ``https://`` address
    (EventBridge API destinations call only HTTPS); ``http://`` is allowed on loopback only,
    for one machine with the local AWS. No user name, query or fragment: the URL is printed
    into templates that other accounts deploy.

    Raises:
        InvalidInput: ``BYOK_PUBLIC_URL`` is not such a URL (the reason named).
    """
    if len(raw) > 1024 or any(c.isspace() or not c.isprintable() for c in raw):
        raise InvalidInput("BYOK_PUBLIC_URL", "is too long or holds spaces", fix=_PUBLIC_URL_FIX)
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InvalidInput("BYOK_PUBLIC_URL", "is not a URL", fix=_PUBLIC_URL_FIX) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("BYOK_PUBLIC_URL", "must be an https:// URL", fix=_PUBLIC_URL_FIX)
    if "@" in parts.netloc or parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise InvalidInput(
            "BYOK_PUBLIC_URL", "must not hold a user name, a query or a fragment",
            fix=_PUBLIC_URL_FIX,
        )  # fmt: skip
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidInput(
            "BYOK_PUBLIC_URL", f"http:// is allowed on loopback only, not {parts.hostname!r:.80}",
            fix=_PUBLIC_URL_FIX,
        )  # fmt: skip
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(name, f"{raw!r} is not a number", fix="Give seconds, e.g. 60.") from None
