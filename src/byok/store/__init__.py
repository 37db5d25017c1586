"""byok.store: the metadata database and blob storage (the one seam for all SQL and blob I/O).

::

    Store.open(url)               engine, sessions, Alembic migrations (SQLite or PostgreSQL)
    ├── TenantRepository          tenants, lifecycle transitions, versioned key configurations
    ├── SqlTenantKeyStore         wrapped tenant keys (current / get / add / count / retire)
    ├── DocumentRepository        put / get / head / list / delete over a BlobStore
    ├── AuditLog                  serialised, hash-chained append; ordered reads
    └── LeaseRepository           one process runs a periodic job (key monitor)
    BlobStore                     FilesystemBlobStore (default), S3BlobStore (byok.store.s3)
    fsck(store, blobs)            orphan blobs, pending removals, missing or damaged blobs
"""

from byok.store.audit import AuditLog, ChainedEvent
from byok.store.blobs import BlobInfo, BlobListing, BlobStore, ByteSource, FilesystemBlobStore
from byok.store.database import Store
from byok.store.documents import DocumentHead, DocumentPage, DocumentReader, DocumentRepository
from byok.store.fsck import DocumentRef, FsckReport, fsck
from byok.store.leases import LeaseRepository
from byok.store.schema import DocumentState, KeyConfigState, TenantState
from byok.store.tenant_keys import SqlTenantKeyStore, StoredTenantKey
from byok.store.tenants import StoredKeyConfig, Tenant, TenantRepository

__all__ = [
    "AuditLog",
    "BlobInfo",
    "BlobListing",
    "BlobStore",
    "ByteSource",
    "ChainedEvent",
    "DocumentHead",
    "DocumentPage",
    "DocumentReader",
    "DocumentRef",
    "DocumentRepository",
    "DocumentState",
    "FilesystemBlobStore",
    "FsckReport",
    "KeyConfigState",
    "LeaseRepository",
    "SqlTenantKeyStore",
    "Store",
    "StoredKeyConfig",
    "StoredTenantKey",
    "Tenant",
    "TenantRepository",
    "TenantState",
    "fsck",
]
